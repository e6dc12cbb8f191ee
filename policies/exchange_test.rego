# Tests of exchange.rego, with the five partner regions and a Franco-German
# oncology project. Run: xborder policy test (or opa test policies/).
package xborder.exchange_test

import data.xborder.exchange

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

now := "2026-11-26T10:00:00Z"

day_s := 86400

fr_self := {"node": "fr-grandest", "country": "FR", "org": "Région Grand Est"}

de_requester := {
	"node": "de-bw",
	"peer_id": "12D3KooWDeBwPeer",
	"country": "DE",
	"org": "Land Baden-Württemberg",
	"researcher": {"sub": "alice@uni-freiburg.de", "org": "Universität Freiburg", "role": "researcher"},
}

ch_requester := {
	"node": "ch-basel",
	"peer_id": "12D3KooWChBaselPeer",
	"country": "CH",
	"org": "Kanton Basel-Stadt",
	"researcher": {"sub": "bruno@unibas.ch", "org": "Universität Basel", "role": "researcher"},
}

be_requester := {
	"node": "be-wallonie",
	"peer_id": "12D3KooWBeWallPeer",
	"country": "BE",
	"org": "Région wallonne",
	"researcher": {"sub": "claire@uliege.be", "org": "Université de Liège", "role": "researcher"},
}

lu_requester := {
	"node": "lu-luxembourg",
	"peer_id": "12D3KooWLuLuxPeer",
	"country": "LU",
	"org": "Grand-Duché de Luxembourg",
	"researcher": {"sub": "dan@uni.lu", "org": "Université du Luxembourg", "role": "researcher"},
}

# A hypothetical member outside the EU/EEA and without adequacy decision.
in_requester := {
	"node": "in-karnataka",
	"peer_id": "12D3KooWInKaPeer",
	"country": "IN",
	"org": "Government of Karnataka",
	"researcher": {"sub": "eve@iisc.ac.in", "org": "IISc", "role": "researcher"},
}

# A hypothetical member in the United States (adequacy under the DPF).
us_requester := {
	"node": "us-massachusetts",
	"peer_id": "12D3KooWUsMaPeer",
	"country": "US",
	"org": "Commonwealth of Massachusetts",
	"researcher": {"sub": "frank@mit.edu", "org": "MIT", "role": "researcher"},
}

icu := {
	"kind": "dataset",
	"id": "icu-admissions-2025",
	"owner": "fr-grandest",
	"theme": "health",
	"classification": "sensitive",
	"personal_data": true,
	"license": "CC-BY-4.0",
	"requires_project": false,
	"partners": [],
}

air_quality := {
	"kind": "dataset",
	"id": "air-quality-2025",
	"owner": "fr-grandest",
	"theme": "bioeconomy",
	"classification": "open",
	"personal_data": false,
	"license": "etalab-2.0",
	"requires_project": false,
	"partners": [],
}

steel_sensors := {
	"kind": "dataset",
	"id": "steel-sensors-2025",
	"owner": "fr-grandest",
	"theme": "industry",
	"classification": "restricted",
	"personal_data": false,
	"license": "proprietary",
	"requires_project": false,
	"partners": [],
}

tumour_seg := {
	"kind": "model",
	"id": "tumour-seg-v2",
	"owner": "fr-grandest",
	"theme": "health",
	"classification": "restricted",
	"personal_data": false,
	"license": "proprietary",
	"requires_project": false,
	"partners": [],
}

oncology := {
	"id": "fr-de-oncology",
	"title": "Franco-German oncology imaging",
	"themes": ["health"],
	"lead": "fr-grandest",
	"partners": ["fr-grandest", "de-bw"],
	"datasets": ["fr-grandest/icu-admissions-2025", "fr-grandest/steel-sensors-2025"],
	"ethics_ref": "CPP-2026-114",
	"status": "active",
}

agr1 := {
	"id": "agr-1",
	"model": "fr-grandest/tumour-seg-v2",
	"parties": ["fr-grandest", "de-bw"],
	"purposes": ["research"],
	"valid_from": "2026-01-01T00:00:00Z",
	"valid_until": "2027-01-01T00:00:00Z",
	"status": "active",
}

# The example request of docs/policies.md: a German researcher asks for
# French ICU admissions within the oncology project.
base := {
	"requester": de_requester,
	"resource": icu,
	"purpose": "research",
	"project": oncology,
	"agreements": [],
	"self": fr_self,
	"time": now,
}

# The base request with some top-level fields replaced.
request(patch) := object.union(object.remove(base, object.keys(patch)), patch)

# The decision for a request.
decide(patch) := d if {
	d := exchange.decision with input as request(patch)
}

# A refusal that names this rule with this reason (at the same position).
refused(d, rule, reason) if {
	d.allow == false
	some i
	d.rules[i] == rule
	d.reasons[i] == reason
	d.obligations == []
	d.max_validity_s == 0
}

# A grant that names this rule with this reason.
granted(d, rule, reason) if {
	d.allow == true
	some i
	d.rules[i] == rule
	d.reasons[i] == reason
}

special_obligations := [
	"Delete the data when the grant expires.",
	"Do not attempt to re-identify any person.",
	"Use the data only in pseudonymised form.",
]

# ---------------------------------------------------------------------------
# Sensitive and personal health data
# ---------------------------------------------------------------------------

test_sensitive_health_data_in_project_allowed if {
	d := decide({})
	d.allow == true
	d.rules == ["health_data_research", "sensitive_data", "transfer_eu_eea"]
	granted(d, "health_data_research", `fr-grandest/icu-admissions-2025 holds personal health data (GDPR art. 9); it is shared for "research", a research-like purpose (GDPR art. 9(2)(j) and 89), within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	granted(d, "sensitive_data", `fr-grandest/icu-admissions-2025 is sensitive data, shared for "research" within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	granted(d, "transfer_eu_eea", "Your node is in Germany (DE), where the GDPR applies (EU/EEA).")
	d.obligations == special_obligations
	d.max_validity_s == 30 * day_s
}

test_health_data_for_public_health_and_statistics_allowed if {
	decide({"purpose": "public-health"}).allow
	decide({"purpose": "statistics"}).allow
}

test_sensitive_without_project_denied if {
	d := decide({"project": null})
	refused(d, "sensitive_requires_project", "fr-grandest/icu-admissions-2025 is sensitive, confidential or personal health data and is shared only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

test_sensitive_project_not_active_denied if {
	d := decide({"project": object.union(oncology, {"status": "closed"})})
	refused(d, "project_not_active", "Project fr-de-oncology is closed, not active; fr-grandest/icu-admissions-2025 is shared only within an active project.")
}

test_sensitive_dataset_not_in_project_denied if {
	d := decide({"project": object.union(oncology, {"datasets": []})})
	refused(d, "dataset_not_in_project", "Project fr-de-oncology does not list fr-grandest/icu-admissions-2025; its owner must attach it to the project first.")
}

test_sensitive_requester_not_in_project_denied if {
	d := decide({"requester": be_requester})
	refused(d, "requester_not_in_project", "Your node be-wallonie is not a partner of project fr-de-oncology; only the project's partners receive its data.")
}

test_sensitive_without_ethics_approval_denied if {
	d := decide({"project": object.union(oncology, {"ethics_ref": "  "})})
	refused(d, "ethics_approval_missing", "Project fr-de-oncology has no ethics approval reference; sensitive and personal health data are shared only with an ethics approval.")
}

test_sensitive_unknown_purpose_denied if {
	d := decide({"purpose": "marketing"})
	refused(d, "unknown_purpose", `The purpose "marketing" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); fr-grandest/icu-admissions-2025 is shared only for one of those.`)
}

test_health_data_for_non_research_purpose_denied if {
	d := decide({"purpose": "industrial-rd"})
	refused(d, "health_data_research_only", `fr-grandest/icu-admissions-2025 holds personal health data (GDPR art. 9), which are shared only for research, statistics or public health (GDPR art. 89); the purpose "industrial-rd" is not one of those.`)
}

test_sensitive_non_personal_data_for_industrial_rd_allowed if {
	d := decide({"resource": object.union(icu, {"personal_data": false}), "purpose": "industrial-rd"})
	d.rules == ["sensitive_data", "transfer_eu_eea"]
	d.obligations == special_obligations
	d.max_validity_s == 30 * day_s
}

test_personal_health_data_classified_restricted_is_special if {
	d := decide({"resource": object.union(icu, {"classification": "restricted"})})
	d.rules == ["health_data_research", "transfer_eu_eea"]
	d.obligations == special_obligations
	d.max_validity_s == 30 * day_s
}

test_personal_health_data_classified_open_needs_project if {
	d := decide({"resource": object.union(icu, {"classification": "open"}), "project": null})
	refused(d, "sensitive_requires_project", "fr-grandest/icu-admissions-2025 is sensitive, confidential or personal health data and is shared only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

test_switzerland_is_adequate if {
	d := decide({
		"requester": ch_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "de-bw", "ch-basel"]}),
	})
	granted(d, "transfer_adequate", "Your node is in Switzerland (CH), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Decision 2000/518/EC).")
	d.obligations == special_obligations
}

test_united_states_adequacy_adds_dpf_obligation if {
	d := decide({
		"requester": us_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "us-massachusetts"]}),
	})
	granted(d, "transfer_adequate", "Your node is in United States (US), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Implementing Decision (EU) 2023/1795 (EU-US Data Privacy Framework)).")
	d.obligations == [
		"Delete the data when the grant expires.",
		"Do not attempt to re-identify any person.",
		"The receiving organisation in the United States must be certified under the EU-US Data Privacy Framework.",
		"Use the data only in pseudonymised form.",
	]
}

test_country_without_adequacy_denied if {
	d := decide({
		"requester": in_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "in-karnataka"]}),
	})
	refused(d, "transfer_not_adequate", "Your node is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); fr-grandest/icu-admissions-2025 may not be transferred there.")
	d.rules == ["transfer_not_adequate"]
}

test_every_refusal_is_listed if {
	d := decide({"requester": in_requester, "purpose": "marketing", "project": object.union(oncology, {"ethics_ref": ""})})
	d.allow == false
	d.rules == ["ethics_approval_missing", "requester_not_in_project", "transfer_not_adequate", "unknown_purpose"]
	count(d.reasons) == 4
}

# ---------------------------------------------------------------------------
# Confidential data
# ---------------------------------------------------------------------------

confidential_icu := object.union(icu, {"classification": "confidential", "partners": ["de-bw"]})

test_confidential_for_named_partner_allowed if {
	d := decide({"resource": confidential_icu})
	d.rules == ["confidential_partner", "health_data_research", "sensitive_data", "transfer_eu_eea"]
	granted(d, "confidential_partner", "fr-grandest/icu-admissions-2025 is confidential and its owner named your node de-bw among the partners who may receive it.")
	granted(d, "sensitive_data", `fr-grandest/icu-admissions-2025 is confidential data, shared for "research" within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	d.obligations == special_obligations
	d.max_validity_s == 30 * day_s
}

test_confidential_for_other_partner_denied if {
	d := decide({
		"resource": confidential_icu,
		"requester": lu_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "de-bw", "lu-luxembourg"]}),
	})
	refused(d, "confidential_not_partner", "fr-grandest/icu-admissions-2025 is confidential and shared only with the partners its owner named; your node lu-luxembourg is not one of them.")
	d.rules == ["confidential_not_partner"]
}

test_confidential_needs_sensitive_conditions if {
	d := decide({"resource": object.union(confidential_icu, {"personal_data": false}), "project": null})
	refused(d, "sensitive_requires_project", "fr-grandest/icu-admissions-2025 is sensitive, confidential or personal health data and is shared only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

# ---------------------------------------------------------------------------
# Open data
# ---------------------------------------------------------------------------

test_open_data_any_member_any_purpose if {
	d := decide({"resource": air_quality, "requester": be_requester, "purpose": "journalism", "project": null})
	granted(d, "open_data", `fr-grandest/air-quality-2025 is open data without personal data; any member may use it for the stated purpose "journalism".`)
	d.rules == ["open_data"]
	d.obligations == []
	d.agreement == ""
	d.max_validity_s == 90 * day_s
}

test_open_data_from_outside_adequacy_allowed if {
	decide({"resource": air_quality, "requester": in_requester, "project": null}).allow
}

test_open_data_needs_a_purpose if {
	d := decide({"resource": air_quality, "purpose": "  "})
	refused(d, "purpose_missing", "The request states no purpose; say what the dataset will be used for.")
	d.rules == ["purpose_missing"]
}

test_missing_purpose_field_denied if {
	d := exchange.decision with input as object.remove(request({"resource": air_quality}), ["purpose"])
	refused(d, "purpose_missing", "The request states no purpose; say what the dataset will be used for.")
}

test_open_data_marked_project_only if {
	d := decide({"resource": object.union(air_quality, {"requires_project": true}), "project": null})
	refused(d, "owner_requires_project", "The owner shares fr-grandest/air-quality-2025 only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

test_open_data_with_personal_data_handled_as_restricted if {
	d := decide({"resource": object.union(air_quality, {"personal_data": true}), "purpose": "statistics"})
	d.rules == ["personal_data_not_open", "restricted_data", "transfer_eu_eea"]
	granted(d, "personal_data_not_open", "fr-grandest/air-quality-2025 is marked open but holds personal data; personal data are never open data, so the rules for restricted data apply.")
	d.max_validity_s == 60 * day_s
	d.obligations == []
}

test_open_data_with_personal_data_needs_known_purpose if {
	d := decide({"resource": object.union(air_quality, {"personal_data": true}), "purpose": "journalism"})
	refused(d, "unknown_purpose", `The purpose "journalism" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); fr-grandest/air-quality-2025 is shared only for one of those.`)
}

# ---------------------------------------------------------------------------
# Restricted data
# ---------------------------------------------------------------------------

test_restricted_known_purpose_allowed if {
	d := decide({"resource": steel_sensors, "requester": lu_requester, "purpose": "industrial-rd", "project": null})
	granted(d, "restricted_data", `fr-grandest/steel-sensors-2025 is restricted data, shared for "industrial-rd", a purpose in the federation's vocabulary.`)
	d.rules == ["restricted_data"]
	d.obligations == []
	d.max_validity_s == 60 * day_s
}

test_restricted_unknown_purpose_denied if {
	d := decide({"resource": steel_sensors, "purpose": "advertising", "project": null})
	refused(d, "unknown_purpose", `The purpose "advertising" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); fr-grandest/steel-sensors-2025 is shared only for one of those.`)
}

test_restricted_purpose_added_to_vocabulary_allowed if {
	extended := object.union(data.data.purposes, {"tourism": {"description": "Tourism planning.", "research": false}})
	d := exchange.decision with input as request({"resource": steel_sensors, "purpose": "tourism", "project": null})
		with data.data.purposes as extended
	d.allow == true
}

steel_project_only := object.union(steel_sensors, {"requires_project": true})

test_restricted_project_only_within_project_allowed if {
	d := decide({"resource": steel_project_only, "purpose": "industrial-rd"})
	d.rules == ["restricted_data", "within_project"]
	granted(d, "within_project", "The request is made within the active joint project fr-de-oncology, which lists fr-grandest/steel-sensors-2025 and your node de-bw as a partner.")
	d.max_validity_s == 60 * day_s
}

test_restricted_project_only_without_project_denied if {
	d := decide({"resource": steel_project_only, "purpose": "industrial-rd", "project": null})
	refused(d, "owner_requires_project", "The owner shares fr-grandest/steel-sensors-2025 only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

test_restricted_project_only_outside_project_denied if {
	d := decide({"resource": steel_project_only, "purpose": "industrial-rd", "requester": be_requester})
	refused(d, "requester_not_in_project", "Your node be-wallonie is not a partner of project fr-de-oncology; only the project's partners receive its data.")
	d.rules == ["requester_not_in_project"]
}

# ---------------------------------------------------------------------------
# Requests that are not cross-border exchanges, or malformed
# ---------------------------------------------------------------------------

test_own_resource_denied if {
	d := decide({"requester": object.union(de_requester, {"node": "fr-grandest", "country": "FR"})})
	refused(d, "own_resource", "Your node fr-grandest owns fr-grandest/icu-admissions-2025; a node uses its own data locally, so there is no cross-border exchange to grant.")
}

test_unknown_kind_denied if {
	d := decide({"resource": object.union(air_quality, {"kind": "notebook"})})
	refused(d, "unknown_kind", `fr-grandest/air-quality-2025 is of kind "notebook"; only datasets and models can be requested.`)
}

test_unknown_classification_denied if {
	d := decide({"resource": object.union(steel_sensors, {"classification": "secret"})})
	refused(d, "unknown_classification", `fr-grandest/steel-sensors-2025 has the classification "secret", which is none of open, restricted, sensitive or confidential; the owner must classify it before it can be shared.`)
}

test_no_rule_allows_without_requester if {
	d := decide({"resource": air_quality, "requester": {"node": ""}})
	refused(d, "no_rule_allows", "No rule of this node's policy allows this request, so it is refused.")
}

# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

model_request(patch) := object.union(
	{"resource": tumour_seg, "project": null, "agreements": [agr1]},
	patch,
)

test_model_under_agreement_allowed if {
	d := decide(model_request({}))
	d.rules == ["model_agreement", "restricted_data"]
	granted(d, "model_agreement", `The model is shared under agreement agr-1, in force until 2027-01-01T00:00:00Z, which names fr-grandest and your node de-bw as parties and covers the purpose "research".`)
	d.obligations == ["Use the model only under agreement agr-1."]
	d.agreement == "agr-1"

	# 35 days and 14 hours until the agreement ends, less than 60 days.
	d.max_validity_s == (35 * day_s) + (14 * 3600)
}

# An agreement that runs until mid-2028.
agr_long := object.union(agr1, {"id": "agr-7", "valid_until": "2028-06-01T00:00:00Z"})

test_restricted_model_validity_is_60_days_at_most if {
	d := decide(model_request({"agreements": [agr_long]}))
	d.obligations == ["Use the model only under agreement agr-7."]
	d.max_validity_s == 60 * day_s
}

test_open_model_validity_is_90_days_at_most if {
	d := decide(model_request({"resource": object.union(tumour_seg, {"classification": "open"}), "agreements": [agr_long]}))
	d.allow == true
	d.max_validity_s == 90 * day_s
}

test_model_validity_ends_with_agreement if {
	d := decide(model_request({"agreements": [object.union(agr1, {"valid_until": "2026-12-01T00:00:00Z"})]}))
	d.allow == true

	# 4 days and 14 hours until the agreement ends.
	d.max_validity_s == (4 * day_s) + (14 * 3600)
}

test_model_longest_agreement_is_used if {
	d := decide(model_request({"agreements": [agr1, agr_long]}))
	d.agreement == "agr-7"
	d.obligations == ["Use the model only under agreement agr-7."]
	d.max_validity_s == 60 * day_s
}

test_model_trained_on_health_data_needs_project_and_agreement if {
	model := object.union(tumour_seg, {"personal_data": true})
	project := object.union(oncology, {"datasets": ["fr-grandest/tumour-seg-v2"]})
	d := decide(model_request({"resource": model, "project": project}))
	d.rules == ["health_data_research", "model_agreement", "transfer_eu_eea"]
	d.obligations == array.concat(special_obligations, ["Use the model only under agreement agr-1."])
	d.max_validity_s == 30 * day_s
}

model_requires_agreement := `The model fr-grandest/tumour-seg-v2 is shared only under an active model-sharing agreement in force now that names fr-grandest and your node de-bw as parties and covers the purpose "research"; no agreement in the registry does.`

test_model_without_agreement_denied if {
	d := decide(model_request({"agreements": []}))
	refused(d, "model_requires_agreement", model_requires_agreement)
	d.rules == ["model_requires_agreement"]
}

test_model_agreement_null_denied if {
	d := decide(model_request({"agreements": null}))
	refused(d, "model_requires_agreement", model_requires_agreement)
}

test_model_revoked_agreement_denied if {
	d := decide(model_request({"agreements": [object.union(agr1, {"status": "revoked"})]}))
	refused(d, "model_requires_agreement", model_requires_agreement)
	refused(d, "agreement_not_active", `Agreement agr-1 has the status "revoked", not active.`)
	d.rules == ["agreement_not_active", "model_requires_agreement"]
}

test_model_expired_agreement_denied if {
	d := decide(model_request({"agreements": [object.union(agr1, {"valid_until": "2026-11-26T10:00:00Z"})]}))
	refused(d, "agreement_not_in_force", "Agreement agr-1 is not in force now: it runs from 2026-01-01T00:00:00Z until 2026-11-26T10:00:00Z.")
}

test_model_future_agreement_denied if {
	d := decide(model_request({"agreements": [object.union(agr1, {"valid_from": "2026-12-01T00:00:00Z"})]}))
	refused(d, "agreement_not_in_force", "Agreement agr-1 is not in force now: it runs from 2026-12-01T00:00:00Z until 2027-01-01T00:00:00Z.")
}

test_model_agreement_for_other_model_denied if {
	d := decide(model_request({"agreements": [object.union(agr1, {"model": "fr-grandest/tumour-seg-v1"})]}))
	refused(d, "agreement_other_model", "Agreement agr-1 covers the model fr-grandest/tumour-seg-v1, not fr-grandest/tumour-seg-v2.")
}

test_model_agreement_without_requester_denied if {
	d := decide(model_request({"requester": ch_requester}))
	refused(d, "agreement_parties", "Agreement agr-1 does not name both fr-grandest and your node ch-basel as parties.")
}

test_model_agreement_without_owner_denied if {
	d := decide(model_request({"agreements": [object.union(agr1, {"parties": ["de-bw", "ch-basel"]})]}))
	refused(d, "agreement_parties", "Agreement agr-1 does not name both fr-grandest and your node de-bw as parties.")
}

test_model_agreement_other_purpose_denied if {
	d := decide(model_request({"purpose": "education"}))
	refused(d, "agreement_purpose", `Agreement agr-1 does not cover the purpose "education".`)
	d.rules == ["agreement_purpose", "model_requires_agreement"]
}

test_model_request_without_time_denied if {
	d := exchange.decision with input as object.remove(request(model_request({})), ["time"])
	refused(d, "model_requires_agreement", model_requires_agreement)
}

test_datasets_need_no_agreement if {
	d := decide({"resource": steel_sensors, "project": null, "agreements": [object.union(agr1, {"status": "revoked"})]})
	d.allow == true
	d.rules == ["restricted_data"]
}

# ---------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------

test_norway_is_eu_eea if {
	no_requester := object.union(de_requester, {"node": "no-vestland", "country": "NO"})
	d := decide({
		"requester": no_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "no-vestland"]}),
	})
	granted(d, "transfer_eu_eea", "Your node is in Norway (NO), where the GDPR applies (EU/EEA).")
}

test_lower_case_country_code_accepted if {
	decide({"requester": object.union(de_requester, {"country": "de"})}).allow
}

test_non_string_purpose_denied if {
	d := decide({"resource": air_quality, "purpose": 42})
	refused(d, "purpose_missing", "The request states no purpose; say what the dataset will be used for.")
}

test_unknown_kind_without_purpose_denied if {
	d := decide({"resource": object.union(air_quality, {"kind": 7}), "purpose": ""})
	d.rules == ["purpose_missing", "unknown_kind"]
	refused(d, "purpose_missing", "The request states no purpose; say what the resource will be used for.")
	refused(d, "unknown_kind", `fr-grandest/air-quality-2025 is of kind ""; only datasets and models can be requested.`)
}

test_model_agreement_without_purposes_denied if {
	d := decide(model_request({"agreements": [object.remove(agr1, ["purposes"])]}))
	refused(d, "agreement_purpose", `Agreement agr-1 does not cover the purpose "research".`)
}

test_missing_resource_denied if {
	d := decide({"resource": null})
	d.allow == false
	d.rules == ["unknown_classification", "unknown_kind"]
	refused(d, "unknown_kind", `/ is of kind ""; only datasets and models can be requested.`)
}

test_non_text_fields_read_as_empty if {
	d := decide({
		"requester": object.union(de_requester, {"node": 5, "country": 49}),
		"project": object.union(oncology, {"id": 7, "status": 1, "partners": ["fr-grandest"], "datasets": []}),
	})
	d.rules == ["dataset_not_in_project", "project_not_active", "requester_not_in_project", "transfer_not_adequate"]
	refused(d, "project_not_active", "Project  is , not active; fr-grandest/icu-admissions-2025 is shared only within an active project.")
	refused(d, "requester_not_in_project", "Your node  is not a partner of project ; only the project's partners receive its data.")
	refused(d, "transfer_not_adequate", "Your node is in , which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); fr-grandest/icu-admissions-2025 may not be transferred there.")
}

# A grant lasts as long as the shortest limit that applies; 0 if none did.
test_grant_without_limit_lasts_zero if {
	d := exchange.decision with input as request({}) with exchange.limits as set()
	d.allow == true
	d.rules == ["health_data_research", "sensitive_data", "transfer_eu_eea"]
	d.max_validity_s == 0
}

# ---------------------------------------------------------------------------
# Participants of a dataspace outside the federation (requester.external)
# ---------------------------------------------------------------------------

# A participant as the node's configuration lists it: its participant id,
# its country and organisation; no peer, no researcher.
acme := {"node": "did:web:dataspace.acme-mobility.example", "country": "DE", "org": "ACME Mobility GmbH", "external": true, "researcher": {}}

# The same organisation, were it outside the EU/EEA and without adequacy.
acme_in := object.union(acme, {"node": "urn:dataspace:acme-india", "country": "IN"})

# In the United States (adequacy under the EU-US Data Privacy Framework).
acme_us := object.union(acme, {"node": "urn:dataspace:acme-us", "country": "US"})

# A request of a participant: no project and no agreement can name it.
external_request(patch) := object.union(request({"requester": acme, "project": null, "agreements": []}), patch)

external_decide(patch) := d if {
	d := exchange.decision with input as external_request(patch)
}

purpose_obligation(p) := sprintf("Use the dataset only for the purpose %q named in the contract agreement.", [p])

test_external_open_data_for_a_purpose_of_the_vocabulary if {
	d := external_decide({"resource": air_quality, "purpose": "research"})
	d.allow == true
	d.rules == ["open_data_dataspace"]
	d.reasons == [`fr-grandest/air-quality-2025 is open data without personal data; a participant of the dataspace outside the federation may use it for "research", a purpose in the federation's vocabulary.`]
	d.obligations == [purpose_obligation("research")]
	d.max_validity_s == 30 * day_s

	# Open data has no country condition.
	external_decide({"requester": acme_in, "resource": air_quality, "purpose": "statistics"}).allow == true
}

test_external_open_data_for_every_purpose_of_the_vocabulary if {
	every p, _ in data.data.purposes {
		external_decide({"resource": air_quality, "purpose": p}).allow == true
	}
}

test_external_open_data_needs_a_purpose_of_the_vocabulary if {
	d := external_decide({"resource": air_quality, "purpose": "marketing"})
	refused(d, "unknown_purpose", `The purpose "marketing" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); fr-grandest/air-quality-2025 is shared only for one of those.`)
	d.rules == ["unknown_purpose"]

	refused(external_decide({"resource": air_quality, "purpose": " "}), "purpose_missing", "The request states no purpose; say what the dataset will be used for.")
	external_decide({"resource": air_quality, "purpose": " "}).rules == ["purpose_missing"]
}

test_member_open_data_rules_unchanged if {
	# A member still gets open data for any stated purpose, for 90 days.
	d := decide({"resource": air_quality, "project": null, "purpose": "marketing"})
	d.allow == true
	d.rules == ["open_data"]
	d.max_validity_s == 90 * day_s
	d.obligations == []

	# And "external": false is a member.
	e := decide({"requester": object.union(de_requester, {"external": false}), "resource": air_quality, "project": null, "purpose": "marketing"})
	e == d
}

test_external_restricted_data_in_the_eu if {
	d := external_decide({"resource": steel_sensors, "purpose": "industrial-rd"})
	d.allow == true
	d.rules == ["restricted_data", "transfer_eu_eea"]
	granted(d, "restricted_data", `fr-grandest/steel-sensors-2025 is restricted data, shared for "industrial-rd", a purpose in the federation's vocabulary.`)
	granted(d, "transfer_eu_eea", "Your organisation is in Germany (DE), where the GDPR applies (EU/EEA).")
	d.obligations == [purpose_obligation("industrial-rd")]
	d.max_validity_s == 30 * day_s
}

test_external_restricted_data_in_an_adequate_country if {
	d := external_decide({"requester": acme_us, "resource": steel_sensors, "purpose": "research"})
	d.allow == true
	d.rules == ["restricted_data", "transfer_adequate"]
	granted(d, "transfer_adequate", "Your organisation is in United States (US), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Implementing Decision (EU) 2023/1795 (EU-US Data Privacy Framework)).")
	d.obligations == [
		"The receiving organisation in the United States must be certified under the EU-US Data Privacy Framework.",
		purpose_obligation("research"),
	]
}

test_external_restricted_data_not_outside_adequacy if {
	d := external_decide({"requester": acme_in, "resource": steel_sensors, "purpose": "research"})
	d.rules == ["transfer_not_adequate"]
	refused(d, "transfer_not_adequate", "Your organisation is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); fr-grandest/steel-sensors-2025 may not be transferred there.")
}

test_external_restricted_data_needs_a_purpose_of_the_vocabulary if {
	d := external_decide({"resource": steel_sensors, "purpose": "marketing"})
	d.rules == ["unknown_purpose"]
	d.allow == false
}

test_external_open_data_with_personal_data_handled_as_restricted if {
	d := external_decide({"resource": object.union(air_quality, {"personal_data": true}), "purpose": "statistics"})
	d.allow == true
	d.rules == ["personal_data_not_open", "restricted_data", "transfer_eu_eea"]
	d.max_validity_s == 30 * day_s
	external_decide({"requester": acme_in, "resource": object.union(air_quality, {"personal_data": true}), "purpose": "statistics"}).rules == ["transfer_not_adequate"]
}

members_only_sensitive := `fr-grandest/icu-admissions-2025 holds personal health data (GDPR art. 9); such data are shared only with members of the federation, within an active joint project that has an ethics approval, never with a participant of the dataspace outside the federation.`

test_external_never_gets_personal_health_data if {
	d := external_decide({})
	refused(d, "special_data_members_only", members_only_sensitive)
	d.rules == ["special_data_members_only"]

	# Not even when the request names a project that would qualify a member.
	p := external_decide({"project": object.union(oncology, {"partners": ["fr-grandest", acme.node]})})
	p.rules == ["special_data_members_only"]

	# Nor when its health data are classified open or restricted.
	every c in ["open", "restricted"] {
		external_decide({"resource": object.union(icu, {"classification": c})}).rules == ["special_data_members_only"]
	}
}

test_external_never_gets_sensitive_or_confidential_data if {
	s := external_decide({"resource": object.union(icu, {"personal_data": false}), "purpose": "research"})
	refused(s, "special_data_members_only", "fr-grandest/icu-admissions-2025 is sensitive data; such data are shared only with members of the federation, within an active joint project that has an ethics approval, never with a participant of the dataspace outside the federation.")
	s.rules == ["special_data_members_only"]

	# Confidential, even were the participant's id among the owner's partners.
	c := external_decide({"resource": object.union(icu, {"classification": "confidential", "personal_data": false, "partners": ["de-bw", acme.node]})})
	refused(c, "special_data_members_only", "fr-grandest/icu-admissions-2025 is confidential data; such data are shared only with members of the federation, within an active joint project that has an ethics approval, never with a participant of the dataspace outside the federation.")
	c.rules == ["special_data_members_only"]
}

test_external_special_data_lists_every_refusal if {
	d := external_decide({"requester": acme_in, "purpose": "industrial-rd"})
	d.rules == ["health_data_research_only", "special_data_members_only", "transfer_not_adequate"]
}

test_external_never_gets_project_only_data if {
	d := external_decide({"resource": steel_project_only, "purpose": "research"})
	refused(d, "project_members_only", "The owner shares fr-grandest/steel-sensors-2025 only within an active joint project of the federation, whose partners are its members; a participant of the dataspace outside the federation cannot be one.")
	d.rules == ["project_members_only"]
	external_decide({"resource": steel_project_only, "purpose": "research", "project": oncology}).rules == ["project_members_only"]
}

test_external_never_gets_a_model_without_agreement if {
	d := external_decide({"resource": tumour_seg, "purpose": "research"})
	refused(d, "model_requires_agreement", `The model fr-grandest/tumour-seg-v2 is shared only under an active model-sharing agreement in force now that names fr-grandest and your organisation did:web:dataspace.acme-mobility.example as parties and covers the purpose "research"; such agreements are signed by members of the federation and committed to its registry, and none names your organisation.`)
	d.rules == ["model_requires_agreement"]

	# The registry's agreement for the model names members only.
	a := external_decide({"resource": tumour_seg, "purpose": "research", "agreements": [agr1]})
	a.rules == ["agreement_parties", "model_requires_agreement"]
	refused(a, "agreement_parties", "Agreement agr-1 does not name both fr-grandest and your organisation did:web:dataspace.acme-mobility.example as parties.")
}

test_external_model_under_an_agreement_naming_it if {
	# Should an agreement ever name the participant, the model would be
	# shared with it as restricted data, for 30 days at most.
	agr := object.union(agr1, {"parties": ["fr-grandest", acme.node]})
	d := external_decide({"resource": tumour_seg, "purpose": "research", "agreements": [agr]})
	d.allow == true
	d.rules == ["model_agreement", "restricted_data", "transfer_eu_eea"]
	d.obligations == ["Use the model only for the purpose \"research\" named in the contract agreement.", "Use the model only under agreement agr-1."]
	d.max_validity_s == 30 * day_s
}
