# Registry policy: may this node propose this command to the federation
# registry (joint projects, membership, model-sharing agreements, the analysis
# modules of a project, the signed evaluations of models)?
#
# Asked by the node that submits the command, before it is signed and sent to
# the raft leader (never while the registry applies it):
#   data.xborder.registry.decision
#
# Input: {"command": {"op", "args"}, "member": {"node", "country"},
#         "state": the registry facts the command needs}.
# The answer is {allow, reasons, rules, obligations, max_validity_s};
# obligations are always empty and max_validity_s is 0 (not applicable).
#
# Why this matters legally: the exchange policy shares sensitive and
# personal health data within registered joint projects, so the registry
# must only contain projects and attachments that their members agreed to.
# In particular, only a dataset's owner attaches it to a project, and a
# member that asks to join becomes a partner only once the project's lead and
# the owner of every dataset attached to it have approved (project.approve,
# decided here on each approver's node before its approval is signed).
#
# How the rules are written: each rule starts with the command it is about
# (input.command.op == "project.attach"), which lets the engine skip at once
# the rules of every other command.
package xborder.registry

# data.data.jurisdictions (policies/data/jurisdictions.json): where personal
# data may go (GDPR chapter V).
import data.data.jurisdictions

# ---------------------------------------------------------------------------
# The decision, assembled from the rules below.
# ---------------------------------------------------------------------------

default allow := false

allow if {
	count(grants) > 0
	count(deny) == 0
}

decision := {
	"allow": allow,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": [],
	"max_validity_s": 0,
}

fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := sort([[g.rule, g.reason] | some g in grants]) if {
	count(grants) > 0
} else := [["no_rule_allows", "No rule of this node's policy allows this registry command, so it is not proposed."]]

# ---------------------------------------------------------------------------
# Facts, with safe defaults: a text field that is missing or not text counts
# as "". The rules read other fields directly (input.command.args.themes,
# input.state.project.status): a missing one simply fails the test.
# ---------------------------------------------------------------------------

text(x) := x if {
	is_string(x)
} else := ""

obj(x) := x if {
	is_object(x)
} else := {}

op := input.command.op if {
	is_string(input.command.op)
} else := ""

args := obj(object.get(input, ["command", "args"], {}))

state := obj(object.get(input, "state", {}))

member := input.member.node if {
	is_string(input.member.node)
} else := ""

arg_id := input.command.args.id if {
	is_string(input.command.args.id)
} else := ""

known_ops := {
	"project.propose", "project.join", "project.attach", "project.close", "project.approve",
	"project.decline",
	"member.propose", "member.vote", "agreement.commit", "agreement.revoke",
	"module.propose", "module.approve", "module.withdraw", "evaluation.commit",
}

# The three priorities of the Grand Est AI plan.
themes_allowed := {"health", "industry", "bioeconomy"}

# A dataset is named "owner/id"; its owner is the part before the slash.
dataset_owner(ds) := parts[0] if {
	parts := split(ds, "/")
	count(parts) == 2
	parts[0] != ""
	parts[1] != ""
}

well_formed(ds) if dataset_owner(ds)

# ---------------------------------------------------------------------------
# project.propose {id, title, themes, partners, datasets, ethics_ref}
# state: {"countries": {member name: country}, "project_exists": bool}
# ---------------------------------------------------------------------------

countries := obj(object.get(state, "countries", {}))

proposed_themes := {t | some t in input.command.args.themes}

proposed_partners := {p | some p in input.command.args.partners}

proposed_datasets := {d | some d in input.command.args.datasets}

partner_countries := {countries[p] | some p in proposed_partners}

deny contains {
	"rule": "project_id_missing",
	"reason": "The project has no id; give it a short unique id such as fr-de-oncology.",
} if {
	input.command.op == "project.propose"
	trim_space(arg_id) == ""
}

deny contains {
	"rule": "project_exists",
	"reason": sprintf("A project with the id %s already exists; choose another id.", [arg_id]),
} if {
	input.command.op == "project.propose"
	input.state.project_exists == true
}

deny contains {
	"rule": "title_missing",
	"reason": sprintf("Project %s has no title; give it a title partners will recognise.", [arg_id]),
} if {
	input.command.op == "project.propose"
	trim_space(text(object.get(args, "title", ""))) == ""
}

# Joint projects serve the cooperation's priorities: health, industry,
# bioeconomy.
deny contains {
	"rule": "themes_missing",
	"reason": sprintf("Project %s names no theme; choose among health, industry and bioeconomy.", [arg_id]),
} if {
	input.command.op == "project.propose"
	count(proposed_themes) == 0
}

deny contains {
	"rule": "unknown_theme",
	"reason": sprintf("Project %s names the theme %v, which is none of health, industry and bioeconomy.", [arg_id, json.marshal(t)]),
} if {
	input.command.op == "project.propose"
	some t in proposed_themes
	not t in themes_allowed
}

# A member proposes projects it takes part in (it becomes their lead).
deny contains {
	"rule": "proposer_not_partner",
	"reason": sprintf("Your node %s is not among the partners of project %s; a member proposes only projects it takes part in.", [member, arg_id]),
} if {
	input.command.op == "project.propose"
	not member in proposed_partners
}

deny contains {
	"rule": "partner_not_member",
	"reason": sprintf("%v is not a member of the federation, so it cannot be a partner of project %s.", [p, arg_id]),
} if {
	input.command.op == "project.propose"
	some p in proposed_partners
	not countries[p]
}

# A joint cross-border project has partners from at least two countries.
deny contains {
	"rule": "single_country",
	"reason": sprintf("The partners of project %s are members from fewer than two countries; a joint cross-border project needs partners from at least two.", [arg_id]),
} if {
	input.command.op == "project.propose"
	count(partner_countries) < 2
}

# Only a dataset's owner puts it into a project: otherwise a member could
# list another region's sensitive data in a project and obtain it without
# that region's consent. Other partners attach their own datasets later.
deny contains {
	"rule": "dataset_not_own",
	"reason": sprintf("The dataset %s belongs to %s, not to your node %s; each partner attaches its own datasets (project attach) once the project exists.", [ds, dataset_owner(ds), member]),
} if {
	input.command.op == "project.propose"
	some ds in proposed_datasets
	dataset_owner(ds) != member
}

deny contains {
	"rule": "dataset_malformed",
	"reason": sprintf("The dataset %v is not of the form owner/id.", [json.marshal(ds)]),
} if {
	input.command.op == "project.propose"
	some ds in proposed_datasets
	not well_formed(ds)
}

grants contains {
	"rule": "project_propose",
	"reason": sprintf("Your node %s may propose the joint project %s with %s.", [member, arg_id, concat(", ", sort(proposed_partners - {member}))]),
} if {
	input.command.op == "project.propose"
}

# ---------------------------------------------------------------------------
# Commands on an existing project; state: {"project": {...}}
# ---------------------------------------------------------------------------

has_project if is_object(input.state.project)

project := obj(object.get(state, "project", {}))

project_id := text(object.get(project, "id", arg_id))

project_active if input.state.project.status == "active"

member_is_partner if member in input.state.project.partners

member_is_lead if input.state.project.lead == member

deny contains {
	"rule": "project_unknown",
	"reason": sprintf("The registry knows no project %s.", [arg_id]),
} if {
	input.command.op in {"project.join", "project.attach", "project.close", "project.approve", "project.decline"}
	not has_project
}

deny contains {
	"rule": "project_not_active",
	"reason": sprintf("Project %s is %s, not active.", [project_id, text(object.get(project, "status", ""))]),
} if {
	input.command.op in {"project.join", "project.attach", "project.close", "project.approve", "project.decline"}
	has_project
	not project_active
}

# project.join {id}: a request; the member becomes a partner once the lead
# and the owner of every attached dataset have approved it.
project_pending := [c | some c in input.state.project.pending; is_object(c)]

member_join_pending if {
	some c in project_pending
	c.kind == "join"
	c.member == member
}

deny contains {
	"rule": "already_partner",
	"reason": sprintf("Your node %s is already a partner of project %s.", [member, project_id]),
} if {
	input.command.op == "project.join"
	member_is_partner
}

deny contains {
	"rule": "join_pending",
	"reason": sprintf("Your node %s has already asked to join project %s; the request waits for the approval of %s.", [member, project_id, concat(", ", awaiting_join(member))]),
} if {
	input.command.op == "project.join"
	member_join_pending
}

awaiting_join(m) := [a | some c in project_pending; c.kind == "join"; c.member == m; some a in c.awaiting]

grants contains {
	"rule": "project_join",
	"reason": sprintf("Your node %s may ask to join the active project %s; it becomes a partner once the lead and the owner of every dataset attached to the project have approved.", [member, project_id]),
} if {
	input.command.op == "project.join"
}

# project.attach {id, dataset}: the owner attaches its own dataset; when the
# owner is not a partner, the attachment waits for the lead's approval.
attach_dataset := input.command.args.dataset if {
	is_string(input.command.args.dataset)
} else := ""

deny contains {
	"rule": "dataset_not_own",
	"reason": sprintf("The dataset %s belongs to %s, not to your node %s; only a dataset's owner attaches it to a project.", [attach_dataset, dataset_owner(attach_dataset), member]),
} if {
	input.command.op == "project.attach"
	dataset_owner(attach_dataset) != member
}

deny contains {
	"rule": "dataset_malformed",
	"reason": sprintf("The dataset %v is not of the form owner/id.", [json.marshal(attach_dataset)]),
} if {
	input.command.op == "project.attach"
	not well_formed(attach_dataset)
}

deny contains {
	"rule": "dataset_already_attached",
	"reason": sprintf("The dataset %s is already attached to project %s.", [attach_dataset, project_id]),
} if {
	input.command.op == "project.attach"
	attach_dataset in input.state.project.datasets
}

deny contains {
	"rule": "attach_pending",
	"reason": sprintf("The dataset %s already waits for approval to be attached to project %s.", [attach_dataset, project_id]),
} if {
	input.command.op == "project.attach"
	some c in project_pending
	c.kind == "attach"
	c.dataset == attach_dataset
}

grants contains {
	"rule": "project_attach",
	"reason": sprintf("Your node %s may attach its dataset %s to project %s.", [member, attach_dataset, project_id]),
} if {
	input.command.op == "project.attach"
	member_is_partner
}

grants contains {
	"rule": "project_attach_request",
	"reason": sprintf("Your node %s is not a partner of project %s: it may offer its dataset %s, which is attached once the lead %s approves.", [member, project_id, attach_dataset, text(object.get(project, "lead", ""))]),
} if {
	input.command.op == "project.attach"
	not member_is_partner
}

# project.approve {id, member} or {id, dataset}: an approver (the lead, a
# dataset owner) approves a pending join or attachment.
# state: {"project": {..., "pending": [{kind, member, dataset, approvals,
#         approvers, awaiting}]}, "candidate": {"name", "country"} (joins)}
approve_member := text(object.get(args, "member", ""))

approve_dataset := text(object.get(args, "dataset", ""))

approve_what := sprintf("%s joining project %s", [approve_member, project_id]) if {
	approve_member != ""
} else := sprintf("attaching %s to project %s", [approve_dataset, project_id])

approved_change := c if {
	approve_member != ""
	approve_dataset == ""
	some c in project_pending
	c.kind == "join"
	c.member == approve_member
} else := c if {
	approve_dataset != ""
	approve_member == ""
	some c in project_pending
	c.kind == "attach"
	c.dataset == approve_dataset
}

deny contains {
	"rule": "nothing_pending",
	"reason": sprintf("Nothing waits for approval: there is no pending request for %s.", [approve_what]),
} if {
	input.command.op in {"project.approve", "project.decline"}
	has_project
	not approved_change
}

deny contains {
	"rule": "not_approver",
	"reason": sprintf("Your node %s is not asked to approve %s; the approvers are %s.", [member, approve_what, concat(", ", approved_change.approvers)]),
} if {
	input.command.op == "project.approve"
	c := approved_change
	not member in c.approvers
}

deny contains {
	"rule": "already_approved",
	"reason": sprintf("Your node %s has already approved %s.", [member, approve_what]),
} if {
	input.command.op == "project.approve"
	member in approved_change.approvals
}

# Approving a join lets the candidate receive this region's data as a
# partner: only candidates where the GDPR applies or that the EU recognises
# as adequate (GDPR art. 45) are approved by this policy.
candidate_country := text(object.get(state, ["candidate", "country"], ""))

candidate_may_receive if jurisdictions.eu[candidate_country]

candidate_may_receive if jurisdictions.eea[candidate_country]

candidate_may_receive if jurisdictions.adequacy[candidate_country]

deny contains {
	"rule": "candidate_jurisdiction",
	"reason": sprintf("%s is in %v, outside the EU/EEA and without an adequacy decision of the EU (GDPR art. 45); this policy does not let it become a partner that receives this region's data.", [approve_member, json.marshal(candidate_country)]),
} if {
	input.command.op == "project.approve"
	approved_change.kind == "join"
	not candidate_may_receive
}

# project.decline {id, member} or {id, dataset}: an approver refuses a
# pending change, or the member that asked withdraws it.
deny contains {
	"rule": "not_approver_or_requester",
	"reason": sprintf("Your node %s may not decline %s: only its approvers (%s) refuse it, and %s withdraws it.", [member, approve_what, concat(", ", c.approvers), text(object.get(c, "by", ""))]),
} if {
	input.command.op == "project.decline"
	c := approved_change
	not member in c.approvers
	member != c.by
}

grants contains {
	"rule": "project_decline",
	"reason": sprintf("Your node %s declines %s.", [member, approve_what]),
} if {
	input.command.op == "project.decline"
}

grants contains {
	"rule": "project_approve",
	"reason": sprintf("Your node %s approves %s.", [member, approve_what]),
} if {
	input.command.op == "project.approve"
}

# project.close {id}: only the lead closes its project.
deny contains {
	"rule": "not_lead",
	"reason": sprintf("Only the lead of project %s (%s) may close it.", [project_id, text(object.get(project, "lead", ""))]),
} if {
	input.command.op == "project.close"
	has_project
	not member_is_lead
}

grants contains {
	"rule": "project_close",
	"reason": sprintf("Your node %s leads project %s and may close it.", [member, project_id]),
} if {
	input.command.op == "project.close"
}

# ---------------------------------------------------------------------------
# Membership; see also membership.rego, which decides how a member votes.
# ---------------------------------------------------------------------------

member_names := {m.name | some m in input.state.members}

candidate_name := text(object.get(args, ["candidate", "name"], ""))

# add (also when the field is missing), remove or rekey.
member_action := text(object.get(args, "action", "add"))

member_rekey if member_action == "rekey"

# member.propose {candidate}; state {"members": [{"name", "country"}]}
deny contains {
	"rule": "proposer_not_member",
	"reason": sprintf("Your node %s is not a member of the federation; only members propose new partners.", [member]),
} if {
	input.command.op == "member.propose"
	not member in member_names
}

deny contains {
	"rule": "candidate_name_missing",
	"reason": "The candidate has no name; give the node name it was initialised with.",
} if {
	input.command.op == "member.propose"
	trim_space(candidate_name) == ""
}

deny contains {
	"rule": "member_name_taken",
	"reason": sprintf("A member named %s already exists; the candidate needs another name.", [candidate_name]),
} if {
	input.command.op == "member.propose"
	not member_rekey
	candidate_name in member_names
}

grants contains {
	"rule": "member_propose",
	"reason": sprintf("Your node %s may propose %s as a new member; the members then vote.", [member, candidate_name]),
} if {
	input.command.op == "member.propose"
	not member_rekey
}

# member.propose {candidate, action: "rekey"}: the member's node key is
# replaced by candidate.peer_id. The member itself does not propose it: its
# key may be the stolen one.
deny contains {
	"rule": "rekey_not_member",
	"reason": sprintf("%s is not a member, so it has no key to replace; propose it as a new member instead.", [candidate_name]),
} if {
	input.command.op == "member.propose"
	member_rekey
	trim_space(candidate_name) != ""
	not candidate_name in member_names
}

deny contains {
	"rule": "rekey_own_key",
	"reason": sprintf("Your node %s may not propose replacing its own key; ask another member to propose it, and the others vote.", [member]),
} if {
	input.command.op == "member.propose"
	member_rekey
	candidate_name == member
}

grants contains {
	"rule": "member_rekey",
	"reason": sprintf("Your node %s may propose replacing the node key of %s by %s; the other members then vote.", [member, candidate_name, text(object.get(args, ["candidate", "peer_id"], ""))]),
} if {
	input.command.op == "member.propose"
	member_rekey
}

# member.vote {candidate, vote}; state {"pending": bool}
vote_candidate := text(object.get(args, "candidate", ""))

pending if input.state.pending == true

vote_valid if input.command.args.vote in {"yes", "no"}

deny contains {
	"rule": "no_pending_proposal",
	"reason": sprintf("There is no pending proposal to admit %s; propose the member first.", [vote_candidate]),
} if {
	input.command.op == "member.vote"
	not pending
}

deny contains {
	"rule": "invalid_vote",
	"reason": sprintf("A vote is yes or no, not %v.", [json.marshal(object.get(args, "vote", null))]),
} if {
	input.command.op == "member.vote"
	not vote_valid
}

grants contains {
	"rule": "member_vote",
	"reason": sprintf("Your node %s may vote on the pending proposal to %s %s.", [member, vote_what, vote_candidate]),
} if {
	input.command.op == "member.vote"
}

vote_what := w if {
	w := {"remove": "remove", "rekey": "replace the node key of"}[object.get(state, "action", "")]
} else := "admit"

deny contains {
	"rule": "rekey_own_vote",
	"reason": sprintf("Your node %s may not vote on replacing its own key; the other members decide.", [member]),
} if {
	input.command.op == "member.vote"
	object.get(state, "action", "") == "rekey"
	vote_candidate == member
}

# ---------------------------------------------------------------------------
# Model-sharing agreements; state {"agreement": {"parties", "status"}}
# ---------------------------------------------------------------------------

has_agreement if is_object(input.state.agreement)

agreement := obj(object.get(state, "agreement", {}))

member_is_party if member in input.state.agreement.parties

agreement_active if input.state.agreement.status == "active"

deny contains {
	"rule": "agreement_unknown",
	"reason": sprintf("The registry knows no agreement %s.", [arg_id]),
} if {
	input.command.op in {"agreement.commit", "agreement.revoke"}
	not has_agreement
}

# Only the parties, who signed the agreement, commit or revoke it.
deny contains {
	"rule": "not_party",
	"reason": sprintf("Your node %s is not a party to agreement %s; only its parties commit or revoke it.", [member, arg_id]),
} if {
	input.command.op in {"agreement.commit", "agreement.revoke"}
	has_agreement
	not member_is_party
}

deny contains {
	"rule": "agreement_not_active",
	"reason": sprintf("Agreement %s is %s, not active, so there is nothing to revoke.", [arg_id, text(object.get(agreement, "status", ""))]),
} if {
	input.command.op == "agreement.revoke"
	has_agreement
	not agreement_active
}

grants contains {
	"rule": "agreement_commit",
	"reason": sprintf("Your node %s is a party to agreement %s and may commit it to the registry.", [member, arg_id]),
} if {
	input.command.op == "agreement.commit"
}

grants contains {
	"rule": "agreement_revoke",
	"reason": sprintf("Your node %s is a party to the active agreement %s and may revoke it.", [member, arg_id]),
} if {
	input.command.op == "agreement.revoke"
}

# ---------------------------------------------------------------------------
# Analysis modules of a project: WebAssembly modules, named by their SHA-256,
# that the federation may run on a project's data. The lead proposes one; the
# owner of each dataset attached to the project decides for its own data
# whether the module may run on it.
# state: {"project": {...}, "module_exists": bool} (module.propose),
#        {"project": {...}, "module": {name, kind, proposed_by, approvals,
#         withdrawn}} (module.approve, module.withdraw)
# ---------------------------------------------------------------------------

module_project_id := text(object.get(args, "project", ""))

module_hash := text(object.get(args, "sha256", ""))

# The first twelve characters of the hash name a module in a sentence.
module_short := substring(module_hash, 0, 12)

module_kinds := {"analysis", "predictor"}

module_kind := text(object.get(args, "kind", ""))

has_module if is_object(input.state.module)

module := obj(object.get(state, "module", {}))

module_name := text(object.get(module, "name", object.get(args, "name", "")))

module_withdrawn if input.state.module.withdrawn == true

member_approved_module if member in input.state.module.approvals

# The member owns a dataset attached to the project (one that only waits for
# approval does not count).
member_owns_attached if {
	some ds in input.state.project.datasets
	dataset_owner(ds) == member
}

deny contains {
	"rule": "project_unknown",
	"reason": sprintf("The registry knows no project %s.", [module_project_id]),
} if {
	input.command.op in {"module.propose", "module.approve", "module.withdraw"}
	not has_project
}

deny contains {
	"rule": "project_not_active",
	"reason": sprintf("Project %s is %s, not active.", [module_project_id, text(object.get(project, "status", ""))]),
} if {
	input.command.op in {"module.propose", "module.approve"}
	has_project
	not project_active
}

# Only the lead, who answers for the project, proposes what runs on its data.
deny contains {
	"rule": "module_not_lead",
	"reason": sprintf("Only the lead of project %s (%s) proposes its analysis modules.", [module_project_id, text(object.get(project, "lead", ""))]),
} if {
	input.command.op == "module.propose"
	has_project
	not member_is_lead
}

deny contains {
	"rule": "module_hash_malformed",
	"reason": sprintf("The module's hash %v is not a SHA-256 in lower-case hexadecimal (64 characters 0-9, a-f).", [json.marshal(object.get(args, "sha256", null))]),
} if {
	input.command.op == "module.propose"
	not regex.match(`^[0-9a-f]{64}$`, module_hash)
}

deny contains {
	"rule": "module_kind_unknown",
	"reason": sprintf("A module is an analysis or a predictor, not %v.", [json.marshal(object.get(args, "kind", null))]),
} if {
	input.command.op == "module.propose"
	not module_kind in module_kinds
}

deny contains {
	"rule": "module_exists",
	"reason": sprintf("Module %s… is already listed for project %s.", [module_short, module_project_id]),
} if {
	input.command.op == "module.propose"
	input.state.module_exists == true
}

grants contains {
	"rule": "module_propose",
	"reason": sprintf("Your node %s leads project %s and may propose the %s module %s (%s…); it runs on a partner's data only once that partner approves it.", [member, module_project_id, module_kind, module_name, module_short]),
} if {
	input.command.op == "module.propose"
}

deny contains {
	"rule": "module_unknown",
	"reason": sprintf("Project %s has no module %s….", [module_project_id, module_short]),
} if {
	input.command.op in {"module.approve", "module.withdraw"}
	has_project
	not has_module
}

deny contains {
	"rule": "module_withdrawn",
	"reason": sprintf("Module %s (%s…) of project %s was withdrawn by the lead; nobody may run it any more.", [module_name, module_short, module_project_id]),
} if {
	input.command.op in {"module.approve", "module.withdraw"}
	module_withdrawn
}

# A module runs on a dataset only with its owner's approval, so only the
# owners of the project's attached datasets approve.
deny contains {
	"rule": "not_dataset_owner",
	"reason": sprintf("Your node %s owns no dataset attached to project %s; only the owners of its attached datasets approve the modules that run on them.", [member, module_project_id]),
} if {
	input.command.op == "module.approve"
	has_project
	not member_owns_attached
}

deny contains {
	"rule": "module_already_approved",
	"reason": sprintf("Your node %s has already approved module %s (%s…) of project %s.", [member, module_name, module_short, module_project_id]),
} if {
	input.command.op == "module.approve"
	member_approved_module
}

grants contains {
	"rule": "module_approve",
	"reason": sprintf("Your node %s owns data attached to project %s and may let module %s (%s…) run on it.", [member, module_project_id, module_name, module_short]),
} if {
	input.command.op == "module.approve"
}

# The lead withdraws the module itself; an approver withdraws only its own
# approval, so the module no longer runs on its data.
deny contains {
	"rule": "not_lead_or_approver",
	"reason": sprintf("Your node %s may not withdraw module %s (%s…) of project %s: the lead withdraws the module, and an owner only the approval it gave.", [member, module_name, module_short, module_project_id]),
} if {
	input.command.op == "module.withdraw"
	has_project
	not member_is_lead
	not member_approved_module
}

grants contains {
	"rule": "module_withdraw",
	"reason": sprintf("Your node %s leads project %s and may withdraw module %s (%s…): nobody may run it any more.", [member, module_project_id, module_name, module_short]),
} if {
	input.command.op == "module.withdraw"
	member_is_lead
}

grants contains {
	"rule": "module_withdraw_approval",
	"reason": sprintf("Your node %s may withdraw its approval of module %s (%s…) of project %s: it no longer runs on your data.", [member, module_name, module_short, module_project_id]),
} if {
	input.command.op == "module.withdraw"
	not member_is_lead
	member_approved_module
}

# ---------------------------------------------------------------------------
# evaluation.commit {model, analysis}: the evaluation of a model, made of the
# contributions its owners signed in one analysis. The registry verifies every
# signature; any member may commit one.
# state: {"model_owner", "owners": [the owners the contributions name],
#         "contributions": n, "evaluation_exists": bool}
# ---------------------------------------------------------------------------

evaluation_model := text(object.get(args, "model", ""))

evaluation_analysis := text(object.get(args, "analysis", ""))

evaluation_owners := [o | some o in input.state.owners; is_string(o)]

deny contains {
	"rule": "model_malformed",
	"reason": sprintf("The model %v is not of the form owner/id.", [json.marshal(object.get(args, "model", null))]),
} if {
	input.command.op == "evaluation.commit"
	text(object.get(state, "model_owner", "")) == ""
}

deny contains {
	"rule": "evaluation_exists",
	"reason": sprintf("The evaluation of model %s by analysis %s is already in the registry.", [evaluation_model, evaluation_analysis]),
} if {
	input.command.op == "evaluation.commit"
	input.state.evaluation_exists == true
}

grants contains {
	"rule": "evaluation_commit",
	"reason": sprintf("Your node %s may commit the evaluation of model %s by analysis %s, signed by %s; the registry checks every signature.", [member, evaluation_model, evaluation_analysis, concat(", ", evaluation_owners)]),
} if {
	input.command.op == "evaluation.commit"
}

# ---------------------------------------------------------------------------
# Anything else.
# ---------------------------------------------------------------------------

deny contains {
	"rule": "unknown_op",
	"reason": sprintf("The registry has no command %v; the commands are %s.", [json.marshal(op), concat(", ", sort(known_ops))]),
} if {
	not op in known_ops
}
