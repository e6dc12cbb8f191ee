# Tests of registry.rego: the five partner regions and the Franco-German
# oncology project.
package xborder.registry_test

import data.xborder.registry

countries := {
	"fr-grandest": "FR",
	"de-bw": "DE",
	"ch-basel": "CH",
	"be-wallonie": "BE",
	"lu-luxembourg": "LU",
}

members := [{"name": n, "country": c} | some n, c in countries]

fr := {"node": "fr-grandest", "country": "FR"}

de := {"node": "de-bw", "country": "DE"}

ch := {"node": "ch-basel", "country": "CH"}

lu := {"node": "lu-luxembourg", "country": "LU"}

oncology := {
	"id": "fr-de-oncology",
	"title": "Franco-German oncology imaging",
	"themes": ["health"],
	"lead": "fr-grandest",
	"partners": ["fr-grandest", "de-bw"],
	"datasets": ["fr-grandest/icu-admissions-2025"],
	"ethics_ref": "CPP-2026-114",
	"status": "active",
}

propose_args := {
	"id": "fr-de-oncology",
	"title": "Franco-German oncology imaging",
	"themes": ["health"],
	"partners": ["fr-grandest", "de-bw"],
	"datasets": ["fr-grandest/icu-admissions-2025"],
	"ethics_ref": "CPP-2026-114",
}

# The decision for a command.
decide(by, op, args, state) := d if {
	d := registry.decision with input as {"command": {"op": op, "args": args}, "member": by, "state": state}
}

propose(args) := decide(fr, "project.propose", object.union(propose_args, args), {"countries": countries, "project_exists": false})

refused(d, rule, reason) if {
	d.allow == false
	some i
	d.rules[i] == rule
	d.reasons[i] == reason
	d.obligations == []
	d.max_validity_s == 0
}

allowed(d, rule, reason) if {
	d.allow == true
	d.rules == [rule]
	d.reasons == [reason]
	d.obligations == []
	d.max_validity_s == 0
}

# ---------------------------------------------------------------------------
# project.propose
# ---------------------------------------------------------------------------

test_propose_franco_german_project if {
	allowed(propose({}), "project_propose", "Your node fr-grandest may propose the joint project fr-de-oncology with de-bw.")
}

test_propose_without_datasets if {
	propose({"datasets": [], "themes": ["industry", "bioeconomy"]}).allow
	d := decide(fr, "project.propose", object.remove(propose_args, ["datasets", "ethics_ref"]), {"countries": countries, "project_exists": false})
	d.allow
}

test_propose_id_missing if {
	refused(propose({"id": " "}), "project_id_missing", "The project has no id; give it a short unique id such as fr-de-oncology.")
}

test_propose_existing_id if {
	d := decide(fr, "project.propose", propose_args, {"countries": countries, "project_exists": true})
	refused(d, "project_exists", "A project with the id fr-de-oncology already exists; choose another id.")
	d.rules == ["project_exists"]
}

test_propose_title_missing if {
	refused(propose({"title": ""}), "title_missing", "Project fr-de-oncology has no title; give it a title partners will recognise.")
}

test_propose_themes_missing if {
	refused(propose({"themes": []}), "themes_missing", "Project fr-de-oncology names no theme; choose among health, industry and bioeconomy.")
}

test_propose_unknown_theme if {
	d := propose({"themes": ["health", "tourism"]})
	refused(d, "unknown_theme", `Project fr-de-oncology names the theme "tourism", which is none of health, industry and bioeconomy.`)
	d.rules == ["unknown_theme"]
}

test_propose_without_proposer if {
	d := propose({"partners": ["de-bw", "ch-basel"], "datasets": []})
	refused(d, "proposer_not_partner", "Your node fr-grandest is not among the partners of project fr-de-oncology; a member proposes only projects it takes part in.")
	d.rules == ["proposer_not_partner"]
}

test_propose_with_non_member if {
	d := propose({"partners": ["fr-grandest", "de-bw", "nl-limburg"]})
	refused(d, "partner_not_member", "nl-limburg is not a member of the federation, so it cannot be a partner of project fr-de-oncology.")
	d.rules == ["partner_not_member"]
}

test_propose_single_country if {
	d := propose({"partners": ["fr-grandest"]})
	refused(d, "single_country", "The partners of project fr-de-oncology are members from fewer than two countries; a joint cross-border project needs partners from at least two.")
	d.rules == ["single_country"]
}

test_propose_with_another_regions_dataset if {
	d := propose({"datasets": ["fr-grandest/icu-admissions-2025", "de-bw/radiology-atlas-2024"]})
	refused(d, "dataset_not_own", "The dataset de-bw/radiology-atlas-2024 belongs to de-bw, not to your node fr-grandest; each partner attaches its own datasets (project attach) once the project exists.")
	d.rules == ["dataset_not_own"]
}

test_propose_with_malformed_dataset if {
	d := propose({"datasets": ["icu-admissions-2025"]})
	refused(d, "dataset_malformed", `The dataset "icu-admissions-2025" is not of the form owner/id.`)
	d.rules == ["dataset_malformed"]
}

# ---------------------------------------------------------------------------
# project.join, project.attach, project.close
# ---------------------------------------------------------------------------

test_join_active_project if {
	d := decide(lu, "project.join", {"id": "fr-de-oncology"}, {"project": oncology})
	allowed(d, "project_join", "Your node lu-luxembourg may ask to join the active project fr-de-oncology; it becomes a partner once the lead and the owner of every dataset attached to the project have approved.")
}

test_join_while_pending if {
	p := object.union(oncology, {"pending": [join_request("lu-luxembourg", [])]})
	d := decide(lu, "project.join", {"id": "fr-de-oncology"}, {"project": p})
	refused(d, "join_pending", "Your node lu-luxembourg has already asked to join project fr-de-oncology; the request waits for the approval of fr-grandest.")
	d.rules == ["join_pending"]
}

test_join_unknown_project if {
	d := decide(lu, "project.join", {"id": "fr-lu-steel"}, {"project": null})
	refused(d, "project_unknown", "The registry knows no project fr-lu-steel.")
	d.rules == ["project_unknown"]
}

test_join_closed_project if {
	d := decide(lu, "project.join", {"id": "fr-de-oncology"}, {"project": object.union(oncology, {"status": "closed"})})
	refused(d, "project_not_active", "Project fr-de-oncology is closed, not active.")
}

test_join_twice if {
	d := decide(de, "project.join", {"id": "fr-de-oncology"}, {"project": oncology})
	refused(d, "already_partner", "Your node de-bw is already a partner of project fr-de-oncology.")
}

test_attach_own_dataset if {
	d := decide(de, "project.attach", {"id": "fr-de-oncology", "dataset": "de-bw/radiology-atlas-2024"}, {"project": oncology})
	allowed(d, "project_attach", "Your node de-bw may attach its dataset de-bw/radiology-atlas-2024 to project fr-de-oncology.")
}

test_attach_other_regions_dataset if {
	d := decide(de, "project.attach", {"id": "fr-de-oncology", "dataset": "fr-grandest/cancer-registry"}, {"project": oncology})
	refused(d, "dataset_not_own", "The dataset fr-grandest/cancer-registry belongs to fr-grandest, not to your node de-bw; only a dataset's owner attaches it to a project.")
	d.rules == ["dataset_not_own"]
}

test_attach_by_non_partner_is_a_request if {
	d := decide(ch, "project.attach", {"id": "fr-de-oncology", "dataset": "ch-basel/genomics-2025"}, {"project": oncology})
	allowed(d, "project_attach_request", "Your node ch-basel is not a partner of project fr-de-oncology: it may offer its dataset ch-basel/genomics-2025, which is attached once the lead fr-grandest approves.")
}

test_attach_while_pending if {
	p := object.union(oncology, {"pending": [{"kind": "attach", "dataset": "ch-basel/genomics-2025", "approvals": ["ch-basel"], "approvers": ["ch-basel", "fr-grandest"], "awaiting": ["fr-grandest"]}]})
	d := decide(ch, "project.attach", {"id": "fr-de-oncology", "dataset": "ch-basel/genomics-2025"}, {"project": p})
	refused(d, "attach_pending", "The dataset ch-basel/genomics-2025 already waits for approval to be attached to project fr-de-oncology.")
	d.rules == ["attach_pending"]
}

# ---------------------------------------------------------------------------
# project.approve
# ---------------------------------------------------------------------------

join_request(m, approvals) := {
	"kind": "join", "member": m, "approvals": approvals,
	"approvers": ["fr-grandest"], "awaiting": [a | some a in ["fr-grandest"]; not a in approvals],
}

with_join(m, approvals) := {"project": object.union(oncology, {"pending": [join_request(m, approvals)]}), "candidate": {"name": m, "country": countries[m]}}

test_lead_approves_a_join if {
	d := decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, with_join("lu-luxembourg", []))
	allowed(d, "project_approve", "Your node fr-grandest approves lu-luxembourg joining project fr-de-oncology.")
}

test_lead_approves_an_attachment if {
	p := object.union(oncology, {"pending": [{"kind": "attach", "dataset": "ch-basel/genomics-2025", "approvals": ["ch-basel"], "approvers": ["ch-basel", "fr-grandest"], "awaiting": ["fr-grandest"]}]})
	d := decide(fr, "project.approve", {"id": "fr-de-oncology", "dataset": "ch-basel/genomics-2025"}, {"project": p})
	allowed(d, "project_approve", "Your node fr-grandest approves attaching ch-basel/genomics-2025 to project fr-de-oncology.")
}

test_bystander_cannot_approve if {
	d := decide(de, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, with_join("lu-luxembourg", []))
	refused(d, "not_approver", "Your node de-bw is not asked to approve lu-luxembourg joining project fr-de-oncology; the approvers are fr-grandest.")
	d.rules == ["not_approver"]
}

test_approve_twice if {
	d := decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, with_join("lu-luxembourg", ["fr-grandest"]))
	refused(d, "already_approved", "Your node fr-grandest has already approved lu-luxembourg joining project fr-de-oncology.")
	d.rules == ["already_approved"]
}

test_approve_nothing_pending if {
	d := decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "ch-basel"}, with_join("lu-luxembourg", []))
	refused(d, "nothing_pending", "Nothing waits for approval: there is no pending request for ch-basel joining project fr-de-oncology.")
	d.rules == ["nothing_pending"]
	d2 := decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg", "dataset": "x/y"}, with_join("lu-luxembourg", []))
	d2.rules == ["nothing_pending"]
	d3 := decide(fr, "project.approve", {"id": "fr-de-oncology", "dataset": "x/y"}, {"project": oncology})
	refused(d3, "nothing_pending", "Nothing waits for approval: there is no pending request for attaching x/y to project fr-de-oncology.")
}

test_approve_unknown_or_closed_project if {
	decide(fr, "project.approve", {"id": "p", "member": "lu-luxembourg"}, {"project": null}).rules == ["project_unknown"]
	closed := object.union(with_join("lu-luxembourg", []), {"project": object.union(oncology, {"status": "closed", "pending": [join_request("lu-luxembourg", [])]})})
	decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, closed).rules == ["project_not_active"]
}

test_approver_declines_and_requester_withdraws if {
	p := object.union(with_join("lu-luxembourg", []), {"project": object.union(oncology, {"pending": [object.union(join_request("lu-luxembourg", []), {"by": "lu-luxembourg"})]})})
	d := decide(fr, "project.decline", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, p)
	allowed(d, "project_decline", "Your node fr-grandest declines lu-luxembourg joining project fr-de-oncology.")
	decide(lu, "project.decline", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, p).allow
	d2 := decide(de, "project.decline", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, p)
	refused(d2, "not_approver_or_requester", "Your node de-bw may not decline lu-luxembourg joining project fr-de-oncology: only its approvers (fr-grandest) refuse it, and lu-luxembourg withdraws it.")
	decide(fr, "project.decline", {"id": "fr-de-oncology", "member": "ch-basel"}, p).rules == ["nothing_pending"]
}

test_candidate_outside_eu_and_adequacy_is_not_approved if {
	st := object.union(with_join("lu-luxembourg", []), {"candidate": {"name": "lu-luxembourg", "country": "CN"}})
	d := decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, st)
	refused(d, "candidate_jurisdiction", `lu-luxembourg is in "CN", outside the EU/EEA and without an adequacy decision of the EU (GDPR art. 45); this policy does not let it become a partner that receives this region's data.`)
	d.rules == ["candidate_jurisdiction"]
	adequate := object.union(st, {"candidate": {"name": "lu-luxembourg", "country": "CH"}})
	decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, adequate).allow
	eea := object.union(st, {"candidate": {"name": "lu-luxembourg", "country": "NO"}})
	decide(fr, "project.approve", {"id": "fr-de-oncology", "member": "lu-luxembourg"}, eea).allow
}

test_attach_to_closed_project if {
	d := decide(de, "project.attach", {"id": "fr-de-oncology", "dataset": "de-bw/radiology-atlas-2024"}, {"project": object.union(oncology, {"status": "closed"})})
	d.rules == ["project_not_active"]
}

test_attach_malformed_dataset if {
	d := decide(de, "project.attach", {"id": "fr-de-oncology", "dataset": "de-bw/"}, {"project": oncology})
	refused(d, "dataset_malformed", `The dataset "de-bw/" is not of the form owner/id.`)
}

test_attach_twice if {
	d := decide(fr, "project.attach", {"id": "fr-de-oncology", "dataset": "fr-grandest/icu-admissions-2025"}, {"project": oncology})
	refused(d, "dataset_already_attached", "The dataset fr-grandest/icu-admissions-2025 is already attached to project fr-de-oncology.")
	d.rules == ["dataset_already_attached"]
}

test_lead_closes if {
	d := decide(fr, "project.close", {"id": "fr-de-oncology"}, {"project": oncology})
	allowed(d, "project_close", "Your node fr-grandest leads project fr-de-oncology and may close it.")
}

test_partner_cannot_close if {
	d := decide(de, "project.close", {"id": "fr-de-oncology"}, {"project": oncology})
	refused(d, "not_lead", "Only the lead of project fr-de-oncology (fr-grandest) may close it.")
	d.rules == ["not_lead"]
}

test_project_without_lead_cannot_be_closed if {
	d := decide(fr, "project.close", {"id": "fr-de-oncology"}, {"project": object.remove(oncology, ["lead"])})
	refused(d, "not_lead", "Only the lead of project fr-de-oncology () may close it.")
}

test_close_twice if {
	d := decide(fr, "project.close", {"id": "fr-de-oncology"}, {"project": object.union(oncology, {"status": "closed"})})
	refused(d, "project_not_active", "Project fr-de-oncology is closed, not active.")
	d.rules == ["project_not_active"]
}

# ---------------------------------------------------------------------------
# member.propose, member.vote
# ---------------------------------------------------------------------------

saarland := {"name": "de-saarland", "country": "DE", "org": "Saarland", "peer_id": "12D3KooWSaarPeer"}

test_member_proposes_candidate if {
	d := decide(fr, "member.propose", {"candidate": saarland}, {"members": members})
	allowed(d, "member_propose", "Your node fr-grandest may propose de-saarland as a new member; the members then vote.")
}

test_non_member_cannot_propose if {
	d := decide({"node": "nl-limburg", "country": "NL"}, "member.propose", {"candidate": saarland}, {"members": members})
	refused(d, "proposer_not_member", "Your node nl-limburg is not a member of the federation; only members propose new partners.")
	d.rules == ["proposer_not_member"]
}

test_candidate_name_taken if {
	d := decide(fr, "member.propose", {"candidate": object.union(saarland, {"name": "de-bw"})}, {"members": members})
	refused(d, "member_name_taken", "A member named de-bw already exists; the candidate needs another name.")
	d.rules == ["member_name_taken"]
}

test_candidate_name_missing if {
	d := decide(fr, "member.propose", {"candidate": object.remove(saarland, ["name"])}, {"members": members})
	refused(d, "candidate_name_missing", "The candidate has no name; give the node name it was initialised with.")
}

test_member_proposes_rekey_of_another if {
	d := decide(fr, "member.propose", {"candidate": {"name": "de-bw", "peer_id": "12D3KooWNewKey"}, "action": "rekey"}, {"members": members})
	allowed(d, "member_rekey", "Your node fr-grandest may propose replacing the node key of de-bw by 12D3KooWNewKey; the other members then vote.")
	d.rules == ["member_rekey"]
}

test_rekey_of_a_non_member_refused if {
	d := decide(fr, "member.propose", {"candidate": saarland, "action": "rekey"}, {"members": members})
	refused(d, "rekey_not_member", "de-saarland is not a member, so it has no key to replace; propose it as a new member instead.")
	d.rules == ["rekey_not_member"]
}

test_member_cannot_propose_its_own_rekey if {
	d := decide(fr, "member.propose", {"candidate": {"name": "fr-grandest", "peer_id": "12D3KooWNewKey"}, "action": "rekey"}, {"members": members})
	refused(d, "rekey_own_key", "Your node fr-grandest may not propose replacing its own key; ask another member to propose it, and the others vote.")
	d.rules == ["rekey_own_key"]
}

test_explicit_add_is_an_admission if {
	d := decide(fr, "member.propose", {"candidate": object.union(saarland, {"name": "de-bw"}), "action": "add"}, {"members": members})
	d.rules == ["member_name_taken"]
}

test_vote_on_pending_rekey if {
	d := decide(ch, "member.vote", {"candidate": "de-bw", "vote": "yes"}, {"pending": true, "action": "rekey"})
	allowed(d, "member_vote", "Your node ch-basel may vote on the pending proposal to replace the node key of de-bw.")
	r := decide(ch, "member.vote", {"candidate": "lu-luxembourg", "vote": "yes"}, {"pending": true, "action": "remove"})
	allowed(r, "member_vote", "Your node ch-basel may vote on the pending proposal to remove lu-luxembourg.")
}

test_member_cannot_vote_on_its_own_rekey if {
	d := decide(de, "member.vote", {"candidate": "de-bw", "vote": "no"}, {"pending": true, "action": "rekey"})
	refused(d, "rekey_own_vote", "Your node de-bw may not vote on replacing its own key; the other members decide.")
	d.rules == ["rekey_own_vote"]
}

test_vote_on_pending_proposal if {
	d := decide(ch, "member.vote", {"candidate": "de-saarland", "vote": "yes"}, {"pending": true})
	allowed(d, "member_vote", "Your node ch-basel may vote on the pending proposal to admit de-saarland.")
	decide(ch, "member.vote", {"candidate": "de-saarland", "vote": "no"}, {"pending": true}).allow
}

test_vote_without_proposal if {
	d := decide(ch, "member.vote", {"candidate": "de-saarland", "vote": "yes"}, {"pending": false})
	refused(d, "no_pending_proposal", "There is no pending proposal to admit de-saarland; propose the member first.")
	decide(ch, "member.vote", {"candidate": "de-saarland", "vote": "yes"}, {}).rules == ["no_pending_proposal"]
}

test_vote_must_be_yes_or_no if {
	d := decide(ch, "member.vote", {"candidate": "de-saarland", "vote": "maybe"}, {"pending": true})
	refused(d, "invalid_vote", `A vote is yes or no, not "maybe".`)
	d.rules == ["invalid_vote"]
	refused(decide(ch, "member.vote", {"candidate": "de-saarland"}, {"pending": true}), "invalid_vote", "A vote is yes or no, not null.")
}

# ---------------------------------------------------------------------------
# agreement.commit, agreement.revoke
# ---------------------------------------------------------------------------

agr1 := {"id": "agr-1", "parties": ["fr-grandest", "de-bw"], "status": "active"}

test_party_commits if {
	d := decide(de, "agreement.commit", {"id": "agr-1"}, {"agreement": object.union(agr1, {"status": "signed"})})
	allowed(d, "agreement_commit", "Your node de-bw is a party to agreement agr-1 and may commit it to the registry.")
}

test_non_party_cannot_commit if {
	d := decide(lu, "agreement.commit", {"id": "agr-1"}, {"agreement": agr1})
	refused(d, "not_party", "Your node lu-luxembourg is not a party to agreement agr-1; only its parties commit or revoke it.")
	d.rules == ["not_party"]
}

test_commit_agreement_without_parties if {
	d := decide(de, "agreement.commit", {"id": "agr-1"}, {"agreement": {"status": "signed"}})
	d.rules == ["not_party"]
}

test_unknown_agreement if {
	d := decide(de, "agreement.commit", {"id": "agr-9"}, {})
	refused(d, "agreement_unknown", "The registry knows no agreement agr-9.")
	d.rules == ["agreement_unknown"]
}

test_party_revokes_active_agreement if {
	d := decide(fr, "agreement.revoke", {"id": "agr-1"}, {"agreement": agr1})
	allowed(d, "agreement_revoke", "Your node fr-grandest is a party to the active agreement agr-1 and may revoke it.")
}

test_revoke_twice if {
	d := decide(fr, "agreement.revoke", {"id": "agr-1"}, {"agreement": object.union(agr1, {"status": "revoked"})})
	refused(d, "agreement_not_active", "Agreement agr-1 is revoked, not active, so there is nothing to revoke.")
	d.rules == ["agreement_not_active"]
}

test_non_party_cannot_revoke if {
	d := decide(lu, "agreement.revoke", {"id": "agr-1"}, {"agreement": agr1})
	d.rules == ["not_party"]
}

# ---------------------------------------------------------------------------
# module.propose, module.approve, module.withdraw
# ---------------------------------------------------------------------------

cohort_hash := "3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a"

cohort_module_args := {
	"project": "fr-de-oncology",
	"sha256": cohort_hash,
	"name": "cohort-describe",
	"kind": "analysis",
	"source": "https://git.example.org/xborder/cohort-describe@4191fff",
	"schema": {"type": "object"},
}

# The oncology project with de-bw's dataset attached, and ch-basel's offered
# dataset still waiting for approval.
oncology_attached := object.union(oncology, {
	"datasets": ["de-bw/radiology-atlas-2024", "fr-grandest/icu-admissions-2025"],
	"pending": [{"kind": "attach", "dataset": "ch-basel/genomics-2025", "by": "ch-basel", "approvals": ["ch-basel"], "approvers": ["ch-basel", "fr-grandest"], "awaiting": ["fr-grandest"]}],
})

cohort_module(approvals, withdrawn) := {
	"name": "cohort-describe", "kind": "analysis", "proposed_by": "fr-grandest",
	"approvals": approvals, "withdrawn": withdrawn,
}

module_state(approvals, withdrawn) := {"project": oncology_attached, "module": cohort_module(approvals, withdrawn)}

module_ref := {"project": "fr-de-oncology", "sha256": cohort_hash}

test_lead_proposes_module if {
	d := decide(fr, "module.propose", cohort_module_args, {"project": oncology, "module_exists": false})
	allowed(d, "module_propose", "Your node fr-grandest leads project fr-de-oncology and may propose the analysis module cohort-describe (3b4c5d6e7f80…); it runs on a partner's data only once that partner approves it.")
	decide(fr, "module.propose", object.union(cohort_module_args, {"kind": "predictor"}), {"project": oncology}).allow
}

test_partner_cannot_propose_module if {
	d := decide(de, "module.propose", cohort_module_args, {"project": oncology, "module_exists": false})
	refused(d, "module_not_lead", "Only the lead of project fr-de-oncology (fr-grandest) proposes its analysis modules.")
	d.rules == ["module_not_lead"]
}

test_module_for_unknown_or_closed_project if {
	d := decide(fr, "module.propose", cohort_module_args, {"project": null})
	refused(d, "project_unknown", "The registry knows no project fr-de-oncology.")
	d.rules == ["project_unknown"]
	d2 := decide(fr, "module.propose", cohort_module_args, {"project": object.union(oncology, {"status": "closed"})})
	refused(d2, "project_not_active", "Project fr-de-oncology is closed, not active.")
	d2.rules == ["project_not_active"]
	decide(de, "module.approve", module_ref, {"project": null}).rules == ["project_unknown"]
	decide(fr, "module.withdraw", module_ref, {}).rules == ["project_unknown"]
}

test_module_hash_and_kind_are_checked if {
	d := decide(fr, "module.propose", object.union(cohort_module_args, {"sha256": upper(cohort_hash)}), {"project": oncology})
	refused(d, "module_hash_malformed", sprintf("The module's hash %q is not a SHA-256 in lower-case hexadecimal (64 characters 0-9, a-f).", [upper(cohort_hash)]))
	d.rules == ["module_hash_malformed"]
	d2 := decide(fr, "module.propose", object.union(cohort_module_args, {"kind": "trainer"}), {"project": oncology})
	refused(d2, "module_kind_unknown", `A module is an analysis or a predictor, not "trainer".`)
	d2.rules == ["module_kind_unknown"]
	d3 := decide(fr, "module.propose", object.remove(cohort_module_args, ["sha256", "kind"]), {"project": oncology})
	d3.rules == ["module_hash_malformed", "module_kind_unknown"]
	d3.reasons[1] == "A module is an analysis or a predictor, not null."
}

test_module_proposed_twice if {
	d := decide(fr, "module.propose", cohort_module_args, {"project": oncology, "module_exists": true})
	refused(d, "module_exists", "Module 3b4c5d6e7f80… is already listed for project fr-de-oncology.")
	d.rules == ["module_exists"]
}

test_dataset_owner_approves_module if {
	d := decide(de, "module.approve", module_ref, module_state([], false))
	allowed(d, "module_approve", "Your node de-bw owns data attached to project fr-de-oncology and may let module cohort-describe (3b4c5d6e7f80…) run on it.")
	decide(fr, "module.approve", module_ref, module_state(["de-bw"], false)).allow
}

test_partner_without_data_cannot_approve_module if {
	st := object.union(module_state([], false), {"project": object.union(oncology_attached, {"partners": ["fr-grandest", "de-bw", "lu-luxembourg"]})})
	d := decide(lu, "module.approve", module_ref, st)
	refused(d, "not_dataset_owner", "Your node lu-luxembourg owns no dataset attached to project fr-de-oncology; only the owners of its attached datasets approve the modules that run on them.")
	d.rules == ["not_dataset_owner"]
}

test_pending_dataset_owner_cannot_approve_module if {
	d := decide(ch, "module.approve", module_ref, module_state([], false))
	d.allow == false
	d.rules == ["not_dataset_owner"]
}

test_module_approved_twice if {
	d := decide(de, "module.approve", module_ref, module_state(["de-bw"], false))
	refused(d, "module_already_approved", "Your node de-bw has already approved module cohort-describe (3b4c5d6e7f80…) of project fr-de-oncology.")
	d.rules == ["module_already_approved"]
}

test_unknown_module if {
	d := decide(de, "module.approve", module_ref, {"project": oncology_attached})
	refused(d, "module_unknown", "Project fr-de-oncology has no module 3b4c5d6e7f80….")
	d.rules == ["module_unknown"]
	decide(fr, "module.withdraw", module_ref, {"project": oncology_attached}).rules == ["module_unknown"]
}

test_withdrawn_module_is_neither_approved_nor_withdrawn_again if {
	d := decide(de, "module.approve", module_ref, module_state([], true))
	refused(d, "module_withdrawn", "Module cohort-describe (3b4c5d6e7f80…) of project fr-de-oncology was withdrawn by the lead; nobody may run it any more.")
	d.rules == ["module_withdrawn"]
	decide(fr, "module.withdraw", module_ref, module_state([], true)).rules == ["module_withdrawn"]
}

test_approval_in_closed_project if {
	st := object.union(module_state([], false), {"project": object.union(oncology_attached, {"status": "closed"})})
	decide(de, "module.approve", module_ref, st).rules == ["project_not_active"]
}

test_lead_withdraws_module if {
	d := decide(fr, "module.withdraw", module_ref, module_state(["de-bw"], false))
	allowed(d, "module_withdraw", "Your node fr-grandest leads project fr-de-oncology and may withdraw module cohort-describe (3b4c5d6e7f80…): nobody may run it any more.")

	# Stopping a module is never refused because the project is closed.
	closed := object.union(module_state([], false), {"project": object.union(oncology_attached, {"status": "closed"})})
	decide(fr, "module.withdraw", module_ref, closed).allow
}

test_approver_withdraws_its_approval if {
	d := decide(de, "module.withdraw", module_ref, module_state(["de-bw"], false))
	allowed(d, "module_withdraw_approval", "Your node de-bw may withdraw its approval of module cohort-describe (3b4c5d6e7f80…) of project fr-de-oncology: it no longer runs on your data.")
}

test_others_cannot_withdraw_module if {
	d := decide(de, "module.withdraw", module_ref, module_state(["fr-grandest"], false))
	refused(d, "not_lead_or_approver", "Your node de-bw may not withdraw module cohort-describe (3b4c5d6e7f80…) of project fr-de-oncology: the lead withdraws the module, and an owner only the approval it gave.")
	d.rules == ["not_lead_or_approver"]
}

# ---------------------------------------------------------------------------
# evaluation.commit
# ---------------------------------------------------------------------------

evaluation_args := {"model": "fr-grandest/sepsis-risk", "analysis": "20261126T090000Z-a1b2c3d4e5f6"}

evaluation_state := {"model_owner": "fr-grandest", "owners": ["de-bw", "fr-grandest"], "contributions": 2, "evaluation_exists": false}

test_member_commits_evaluation if {
	d := decide(lu, "evaluation.commit", evaluation_args, evaluation_state)
	allowed(d, "evaluation_commit", "Your node lu-luxembourg may commit the evaluation of model fr-grandest/sepsis-risk by analysis 20261126T090000Z-a1b2c3d4e5f6, signed by de-bw, fr-grandest; the registry checks every signature.")
}

test_evaluation_committed_twice if {
	d := decide(fr, "evaluation.commit", evaluation_args, object.union(evaluation_state, {"evaluation_exists": true}))
	refused(d, "evaluation_exists", "The evaluation of model fr-grandest/sepsis-risk by analysis 20261126T090000Z-a1b2c3d4e5f6 is already in the registry.")
	d.rules == ["evaluation_exists"]
}

test_evaluation_of_malformed_model if {
	d := decide(fr, "evaluation.commit", {"model": "sepsis-risk", "analysis": "a"}, object.union(evaluation_state, {"model_owner": ""}))
	refused(d, "model_malformed", `The model "sepsis-risk" is not of the form owner/id.`)
	d.rules == ["model_malformed"]
	decide(fr, "evaluation.commit", {"analysis": "a"}, {}).rules == ["model_malformed"]
}

# ---------------------------------------------------------------------------
# Unknown commands
# ---------------------------------------------------------------------------

test_unknown_op if {
	d := decide(fr, "project.delete", {"id": "fr-de-oncology"}, {"project": oncology})
	refused(d, "unknown_op", `The registry has no command "project.delete"; the commands are agreement.commit, agreement.revoke, evaluation.commit, member.propose, member.vote, module.approve, module.propose, module.withdraw, project.approve, project.attach, project.close, project.decline, project.join, project.propose.`)
	d.rules == ["unknown_op"]
}

test_empty_input if {
	d := registry.decision with input as {}
	refused(d, "unknown_op", `The registry has no command ""; the commands are agreement.commit, agreement.revoke, evaluation.commit, member.propose, member.vote, module.approve, module.propose, module.withdraw, project.approve, project.attach, project.close, project.decline, project.join, project.propose.`)
}

test_no_rule_allows_fallback if {
	d := registry.decision with input as {} with registry.deny as set()
	d.rules == ["no_rule_allows"]
	d.reasons == ["No rule of this node's policy allows this registry command, so it is not proposed."]
	d.allow == false
}

test_non_string_op if {
	d := decide(fr, 42, {}, {})
	d.rules == ["unknown_op"]
}

test_non_string_fields if {
	d := decide({"node": 9}, "project.attach", {"id": 7, "dataset": 8}, {"project": {"id": "p", "status": 5, "partners": [], "datasets": []}})
	d.rules == ["dataset_malformed", "project_not_active"]
	d.reasons == [
		`The dataset "" is not of the form owner/id.`,
		"Project p is , not active.",
	]
	refused(
		decide(de, "project.close", {"id": "p"}, {"project": {"id": "p", "status": "active", "lead": 3}}),
		"not_lead", "Only the lead of project p () may close it.",
	)
}
