# Tests of analysis.rego, with the five partner regions and the
# Franco-German oncology project. Run: xborder policy test (or opa test
# policies/).
package xborder.analysis_test

import data.xborder.analysis

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

fr_self := {"node": "fr-grandest", "country": "FR", "org": "Région Grand Est"}

researcher(node, country, sub) := {
	"node": node,
	"country": country,
	"researcher": {"sub": sub, "org": "University", "role": "researcher"},
}

de_requester := {
	"node": "de-bw",
	"peer_id": "12D3KooWDeBwPeer",
	"country": "DE",
	"org": "Land Baden-Württemberg",
	"researcher": {"sub": "alice@uni-freiburg.de", "org": "Universität Freiburg", "role": "researcher"},
}

be_requester := researcher("be-wallonie", "BE", "claire@uliege.be")

lu_requester := researcher("lu-luxembourg", "LU", "dan@uni.lu")

ch_requester := researcher("ch-basel", "CH", "bruno@unibas.ch")

# Hypothetical members outside the EU/EEA: without adequacy (India), and
# with it under a condition (the United States, EU-US Data Privacy
# Framework).
in_requester := researcher("in-karnataka", "IN", "eve@iisc.ac.in")

us_requester := researcher("us-massachusetts", "US", "frank@mit.edu")

# A researcher of the owner's own node.
fr_requester := researcher("fr-grandest", "FR", "gael@unistra.fr")

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

# Personal data that are not about health: a commuter survey.
commuters := {
	"kind": "dataset",
	"id": "commuter-survey-2025",
	"owner": "fr-grandest",
	"theme": "industry",
	"classification": "open",
	"personal_data": true,
	"license": "etalab-2.0",
	"requires_project": false,
	"partners": [],
}

oncology := {
	"id": "fr-de-oncology",
	"title": "Franco-German oncology imaging",
	"themes": ["health"],
	"lead": "fr-grandest",
	"partners": ["fr-grandest", "de-bw"],
	"datasets": [
		"fr-grandest/icu-admissions-2025", "fr-grandest/steel-sensors-2025",
		"fr-grandest/commuter-survey-2025",
	],
	"ethics_ref": "CPP-2026-114",
	"status": "active",
}

# A logistic regression of readmission on age and sex, adults only.
readmission_glm := {
	"kind": "glm",
	"variables": [
		{"name": "readmitted", "type": "logical"},
		{"name": "age", "type": "numeric"},
		{"name": "sex", "type": "factor"},
	],
	"filter": "age >= 18",
	"family": "binomial",
	"formula": "readmitted ~ age + sex",
	"parameters": 3,
}

# The example request of docs/policies.md: a German researcher of the
# oncology project fits a glm on the French ICU admissions.
base := {
	"requester": de_requester,
	"dataset": icu,
	"analysis": readmission_glm,
	"purpose": "research",
	"project": oncology,
	"self": fr_self,
	"time": "2026-11-26T10:00:00Z",
}

# The base request with some top-level fields replaced.
request(patch) := object.union(object.remove(base, object.keys(patch)), patch)

decide(patch) := d if {
	d := analysis.decision with input as request(patch)
}

# A summary of one numeric column, for the tests that are not about the
# analysis itself.
summary := {"kind": "summary", "variables": [{"name": "pm10", "type": "numeric"}], "filter": ""}

default_limits := {
	"min_cell_count": 5,
	"min_subset_rows": 5,
	"max_params_share": 0.33,
	"max_factor_levels": 40,
	"max_iterations": 25,
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
	d.max_validity_s == 0
}

special_obligations := [
	"Do not attempt to re-identify any person from the results.",
	"Do not combine the results with other data to single out a person.",
]

# ---------------------------------------------------------------------------
# Sensitive and personal health data
# ---------------------------------------------------------------------------

test_health_glm_in_project_allowed_with_stricter_cells if {
	d := decide({})
	d.rules == ["health_data_cell_count", "personal_data_research", "sensitive_data", "transfer_eu_eea"]
	granted(d, "health_data_cell_count", "fr-grandest/icu-admissions-2025 holds personal health data (GDPR art. 9), so every figure of the result stands for at least 10 persons.")
	granted(d, "personal_data_research", `fr-grandest/icu-admissions-2025 holds personal data; it is analysed for "research", a research-like purpose (GDPR art. 89), within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	granted(d, "sensitive_data", `fr-grandest/icu-admissions-2025 is sensitive data, analysed for "research", a research-like purpose, within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	granted(d, "transfer_eu_eea", "Your node is in Germany (DE), where the GDPR applies (EU/EEA).")
	d.obligations == special_obligations
	d.limits == object.union(default_limits, {"min_cell_count": 10})
}

test_every_research_like_purpose_allowed if {
	every p in ["research", "public-health", "statistics"] {
		decide({"purpose": p}).allow
	}
}

test_sensitive_for_non_research_purpose_denied if {
	d := decide({"purpose": "industrial-rd"})
	refused(d, "research_purpose_required", `fr-grandest/icu-admissions-2025 is sensitive, confidential or personal data, which are analysed only for research, statistics or public health (GDPR art. 89); the purpose "industrial-rd" is not one of those.`)
	d.rules == ["research_purpose_required"]
}

test_sensitive_without_personal_data_keeps_default_limits if {
	d := decide({"dataset": object.union(icu, {"personal_data": false})})
	d.rules == ["sensitive_data", "transfer_eu_eea"]
	d.limits == default_limits
	d.obligations == special_obligations
}

test_sensitive_without_project_denied if {
	d := decide({"project": null})
	refused(d, "sensitive_requires_project", "fr-grandest/icu-admissions-2025 is sensitive, confidential or personal data and is analysed only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
	d.rules == ["sensitive_requires_project"]
}

test_project_not_active_denied if {
	d := decide({"project": object.union(oncology, {"status": "closed"})})
	refused(d, "project_not_active", "Project fr-de-oncology is closed, not active; fr-grandest/icu-admissions-2025 is analysed only within an active project.")
}

test_project_without_id_or_status_denied if {
	d := decide({"project": {"partners": ["fr-grandest", "de-bw"], "status": 1}})
	d.rules == ["dataset_not_in_project", "ethics_approval_missing", "project_not_active"]
	refused(d, "project_not_active", "Project  is , not active; fr-grandest/icu-admissions-2025 is analysed only within an active project.")
}

test_dataset_not_in_project_denied if {
	d := decide({"project": object.union(oncology, {"datasets": []})})
	refused(d, "dataset_not_in_project", "Project fr-de-oncology does not list fr-grandest/icu-admissions-2025; its owner must attach it to the project first.")
}

test_requester_not_in_project_denied if {
	d := decide({"requester": be_requester})
	refused(d, "requester_not_in_project", "Your node be-wallonie is not a partner of project fr-de-oncology; only the project's partners analyse its data.")
	d.rules == ["requester_not_in_project"]
}

test_ethics_approval_missing_denied if {
	d := decide({"project": object.union(oncology, {"ethics_ref": " "})})
	refused(d, "ethics_approval_missing", "Project fr-de-oncology has no ethics approval reference; sensitive and personal data are analysed only with an ethics approval.")
	d.rules == ["ethics_approval_missing"]
}

test_switzerland_is_adequate if {
	d := decide({
		"requester": ch_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "ch-basel"]}),
	})
	granted(d, "transfer_adequate", "Your node is in Switzerland (CH), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Decision 2000/518/EC).")
	d.obligations == special_obligations
}

test_united_states_adequacy_adds_dpf_obligation if {
	d := decide({
		"requester": us_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "us-massachusetts"]}),
	})
	d.allow
	d.obligations == [
		"Do not attempt to re-identify any person from the results.",
		"Do not combine the results with other data to single out a person.",
		"The receiving organisation in the United States must be certified under the EU-US Data Privacy Framework.",
	]
}

test_country_without_adequacy_denied if {
	d := decide({
		"requester": in_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "in-karnataka"]}),
	})
	refused(d, "transfer_not_adequate", "Your node is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); results drawn from fr-grandest/icu-admissions-2025 may not be sent there.")
	d.rules == ["transfer_not_adequate"]
}

test_norway_is_in_the_eea if {
	d := decide({
		"requester": researcher("no-viken", "no", "ola@uio.no"),
		"project": object.union(oncology, {"partners": ["fr-grandest", "no-viken"]}),
	})
	granted(d, "transfer_eu_eea", "Your node is in Norway (NO), where the GDPR applies (EU/EEA).")
}

# ---------------------------------------------------------------------------
# Personal data that are not about health
# ---------------------------------------------------------------------------

test_personal_data_marked_open_are_handled_as_sensitive if {
	d := decide({"dataset": commuters, "project": null, "requester": be_requester})
	refused(d, "sensitive_requires_project", "fr-grandest/commuter-survey-2025 is sensitive, confidential or personal data and is analysed only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
	not "open_data" in d.rules
}

test_personal_data_in_project_allowed_with_default_limits if {
	d := decide({"dataset": commuters, "purpose": "statistics"})
	d.rules == ["personal_data_research", "transfer_eu_eea"]
	granted(d, "personal_data_research", `fr-grandest/commuter-survey-2025 holds personal data; it is analysed for "statistics", a research-like purpose (GDPR art. 89), within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
	d.limits == default_limits
	d.obligations == special_obligations
}

# ---------------------------------------------------------------------------
# Confidential data
# ---------------------------------------------------------------------------

confidential_icu := object.union(icu, {"classification": "confidential", "partners": ["de-bw"]})

test_confidential_for_named_partner_allowed if {
	d := decide({"dataset": confidential_icu})
	d.rules == ["confidential_partner", "health_data_cell_count", "personal_data_research", "sensitive_data", "transfer_eu_eea"]
	granted(d, "confidential_partner", "fr-grandest/icu-admissions-2025 is confidential and its owner named your node de-bw among the partners who may analyse it.")
	granted(d, "sensitive_data", `fr-grandest/icu-admissions-2025 is confidential data, analysed for "research", a research-like purpose, within the active joint project fr-de-oncology, which has the ethics approval CPP-2026-114.`)
}

test_confidential_for_other_partner_denied if {
	d := decide({
		"dataset": confidential_icu,
		"requester": lu_requester,
		"project": object.union(oncology, {"partners": ["fr-grandest", "de-bw", "lu-luxembourg"]}),
	})
	refused(d, "confidential_not_partner", "fr-grandest/icu-admissions-2025 is confidential and analysed only for the partners its owner named; your node lu-luxembourg is not one of them.")
	d.rules == ["confidential_not_partner"]
}

test_confidential_for_the_owners_own_researchers if {
	d := decide({"dataset": confidential_icu, "requester": fr_requester})
	granted(d, "confidential_own_node", "fr-grandest/icu-admissions-2025 is confidential and your node fr-grandest owns it.")
	not "confidential_partner" in d.rules
}

test_confidential_needs_the_sensitive_conditions if {
	d := decide({"dataset": object.union(confidential_icu, {"personal_data": false}), "project": null})
	refused(d, "sensitive_requires_project", "fr-grandest/icu-admissions-2025 is sensitive, confidential or personal data and is analysed only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

# ---------------------------------------------------------------------------
# Open and restricted data
# ---------------------------------------------------------------------------

test_open_data_any_member_purpose_from_vocabulary if {
	d := decide({"dataset": air_quality, "analysis": summary, "requester": in_requester, "purpose": "education", "project": null})
	d.rules == ["open_data"]
	granted(d, "open_data", `fr-grandest/air-quality-2025 is open data without personal data; any member may analyse it for "education", a purpose in the federation's vocabulary.`)
	d.obligations == []
	d.limits == default_limits
}

test_open_data_unknown_purpose_denied if {
	d := decide({"dataset": air_quality, "analysis": summary, "purpose": "marketing", "project": null})
	refused(d, "unknown_purpose", `The purpose "marketing" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); fr-grandest/air-quality-2025 is analysed only for one of those.`)
	d.rules == ["unknown_purpose"]
}

test_missing_purpose_denied if {
	d := analysis.decision with input as object.remove(request({"dataset": air_quality}), ["purpose"])
	refused(d, "purpose_missing", "The request states no purpose; say what the analysis is for.")
	d.rules == ["purpose_missing"]
	decide({"dataset": air_quality, "purpose": "  "}).rules == ["purpose_missing"]
}

test_restricted_data_for_purpose_from_vocabulary if {
	d := decide({"dataset": steel_sensors, "requester": be_requester, "purpose": "industrial-rd", "project": null})
	d.rules == ["restricted_data"]
	granted(d, "restricted_data", `fr-grandest/steel-sensors-2025 is restricted data, analysed for "industrial-rd", a purpose in the federation's vocabulary.`)
	d.obligations == []
}

test_restricted_data_unknown_purpose_denied if {
	d := decide({"dataset": steel_sensors, "purpose": "marketing"})
	d.rules == ["unknown_purpose"]
}

project_only_steel := object.union(steel_sensors, {"requires_project": true})

test_project_only_dataset_without_project_denied if {
	d := decide({"dataset": project_only_steel, "project": null})
	refused(d, "owner_requires_project", "The owner analyses fr-grandest/steel-sensors-2025 only within an active joint project of the federation registry; the request names no project, or one the registry does not know.")
}

test_project_only_dataset_within_project_allowed if {
	d := decide({"dataset": project_only_steel, "purpose": "industrial-rd"})
	d.rules == ["restricted_data", "within_project"]
	granted(d, "within_project", "The analysis is made within the active joint project fr-de-oncology, which lists fr-grandest/steel-sensors-2025 and your node de-bw as a partner.")
}

# ---------------------------------------------------------------------------
# The analysis asked
# ---------------------------------------------------------------------------

test_every_analysis_the_node_runs_is_allowed if {
	every kind in ["summary", "table", "histogram", "correlation"] {
		decide({"analysis": {"kind": kind, "variables": [{"name": "age", "type": "numeric"}], "filter": ""}}).allow
	}
	every family in ["gaussian", "binomial", "poisson"] {
		decide({"analysis": object.union(readmission_glm, {"family": family})}).allow
	}
}

test_unknown_analysis_denied if {
	d := decide({"analysis": {"kind": "listing", "variables": [{"name": "age", "type": "numeric"}], "filter": ""}})
	refused(d, "unknown_analysis", `"listing" is not an analysis this node runs; it runs correlation, evaluate, glm, histogram, module, summary, table.`)
	d.rules == ["unknown_analysis"]
	decide({"analysis": {}}).rules == ["unknown_analysis"]
}

test_unknown_glm_family_denied if {
	d := decide({"analysis": object.union(readmission_glm, {"family": "negative-binomial"})})
	refused(d, "unknown_glm_family", `"negative-binomial" is not a glm family this node fits; it fits binomial, gaussian, poisson.`)
	d.rules == ["unknown_glm_family"]
	decide({"analysis": object.remove(readmission_glm, ["family"])}).rules == ["unknown_glm_family"]
}

# ---------------------------------------------------------------------------
# Every request
# ---------------------------------------------------------------------------

test_requester_without_node_denied if {
	d := decide({"requester": {"country": "DE"}, "dataset": air_quality})
	refused(d, "requester_unknown", "The request names no requesting node; only members of the federation run analyses.")
	d.rules == ["requester_unknown"]
}

test_model_is_not_analysed if {
	d := decide({"dataset": object.union(air_quality, {"kind": "model", "id": "tumour-seg-v2"})})
	refused(d, "not_a_dataset", `fr-grandest/tumour-seg-v2 is of kind "model"; only datasets can be analysed.`)
	d.rules == ["not_a_dataset"]
}

test_unknown_classification_denied if {
	d := decide({"dataset": object.union(steel_sensors, {"classification": "secret"})})
	refused(d, "unknown_classification", `fr-grandest/steel-sensors-2025 has the classification "secret", which is none of open, restricted, sensitive or confidential; the owner must classify it before it can be analysed.`)
	d.rules == ["unknown_classification"]
}

test_every_refusal_is_listed if {
	d := decide({
		"requester": in_requester,
		"purpose": "industrial-rd",
		"analysis": object.union(readmission_glm, {"family": "tweedie"}),
		"project": object.union(oncology, {"ethics_ref": ""}),
	})
	d.rules == [
		"ethics_approval_missing", "requester_not_in_project", "research_purpose_required",
		"transfer_not_adequate", "unknown_glm_family",
	]
	count(d.reasons) == 5
	d.limits == object.union(default_limits, {"min_cell_count": 10})
}

test_an_empty_request_is_refused_for_every_reason if {
	d := analysis.decision with input as {}
	d.rules == ["not_a_dataset", "purpose_missing", "requester_unknown", "unknown_analysis", "unknown_classification"]
	d.limits == default_limits
}

test_no_rule_allows_fallback if {
	d := analysis.decision with input as request({"dataset": air_quality, "purpose": "marketing"}) with analysis.deny as set()
	refused(d, "no_rule_allows", "No rule of this node's policy allows this analysis, so it is refused.")
}

# ---------------------------------------------------------------------------
# Disclosure limits
# ---------------------------------------------------------------------------

# A legal team's stricter rule: at most 20 levels per categorical variable
# for confidential data. Stricter rules only tighten; one that would loosen
# a limit (a smaller minimum, a larger maximum) changes nothing.
test_stricter_limits_only_tighten if {
	extra := {
		{"rule": "confidential_levels", "reason": "Confidential data: at most 20 levels.", "limit": "max_factor_levels", "value": 20},
		{"rule": "looser_cells", "reason": "Loosened.", "limit": "min_cell_count", "value": 2},
		{"rule": "looser_iterations", "reason": "Loosened.", "limit": "max_iterations", "value": 100},
	}
	d := analysis.decision with input as request({"dataset": confidential_icu}) with analysis.stricter as extra
	d.limits == object.union(default_limits, {"max_factor_levels": 20})
	granted(d, "confidential_levels", "Confidential data: at most 20 levels.")
}

# ---------------------------------------------------------------------------
# Programs on the rows: evaluations of a model, module runs
# ---------------------------------------------------------------------------

predictor := {
	"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"name": "readmission-predictor",
	"kind": "predictor",
	"project": "fr-de-oncology",
	"approved_by_self": true,
	"approvals": ["fr-grandest", "de-bw"],
	"withdrawn": false,
}

readmission_model := {
	"kind": "model",
	"id": "readmission-v2",
	"owner": "de-bw",
	"theme": "health",
	"classification": "restricted",
	"personal_data": false,
	"license": "proprietary",
	"requires_project": false,
	"partners": [],
}

evaluate := {
	"kind": "evaluate",
	"variables": [{"name": "temperature", "type": "number"}, {"name": "failed", "type": "boolean"}],
	"filter": "",
	"label": "failed",
}

# An evaluation of a model on the restricted steel sensors, within the
# oncology project (which lists them).
evaluation(patch) := decide(object.union({"dataset": steel_sensors, "analysis": evaluate, "module": predictor, "model": readmission_model}, patch))

# The evaluation with its module replaced (object.union would merge it).
with_module(m) := decide({"dataset": steel_sensors, "analysis": evaluate, "module": m, "model": readmission_model})

test_evaluation_of_an_approved_predictor_allowed if {
	d := evaluation({})
	d.rules == ["model_evaluated", "module_approved", "restricted_data"]
	granted(d, "module_approved", "The program readmission-predictor (predictor module, 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08) was approved by fr-grandest for project fr-de-oncology.")
	granted(d, "model_evaluated", "The model de-bw/readmission-v2 is evaluated against fr-grandest/steel-sensors-2025's rows; only the metrics leave, never a score.")
	d.limits == default_limits
}

test_module_run_of_an_approved_analysis_allowed if {
	d := evaluation({"analysis": {"kind": "module", "variables": [], "filter": ""}, "module": object.union(predictor, {"kind": "analysis", "name": "cohort-describe"})})
	d.rules == ["module_approved", "restricted_data"]
}

test_predictor_not_approved_by_the_owner_denied if {
	d := evaluation({"module": object.union(predictor, {"approved_by_self": false, "approvals": ["de-bw"]})})
	refused(d, "module_not_approved", "fr-grandest has not approved the program readmission-predictor for project fr-de-oncology; its legal team reviews a program before it runs on its data.")
	d.rules == ["module_not_approved"]
}

test_program_unknown_to_the_registry_denied if {
	d := decide({"dataset": steel_sensors, "analysis": evaluate, "model": readmission_model})
	refused(d, "module_unknown", "The program of this evaluate is not one the registry holds for the project; it must be proposed to the project and approved by fr-grandest first.")
}

test_withdrawn_program_denied if {
	d := evaluation({"module": object.union(predictor, {"withdrawn": true})})
	refused(d, "module_withdrawn", "The program readmission-predictor was withdrawn from project fr-de-oncology.")
}

test_analysis_module_run_as_predictor_denied if {
	d := evaluation({"module": object.union(predictor, {"kind": "analysis"})})
	refused(d, "module_wrong_kind", `The program readmission-predictor is registered as a "analysis" module; a evaluate runs a "predictor" module.`)
}

test_program_of_nameless_kindless_entry_denied if {
	d := with_module({"approved_by_self": true, "project": "fr-de-oncology", "sha256": "x"})
	refused(d, "module_wrong_kind", `The program  is registered as a "" module; a evaluate runs a "predictor" module.`)
}

test_program_approved_in_another_project_denied if {
	d := evaluation({"module": object.union(predictor, {"project": "other"})})
	refused(d, "module_other_project", "The program readmission-predictor was approved in project other, not in the request's project fr-de-oncology.")
}

test_evaluation_without_a_model_denied if {
	d := decide({"dataset": steel_sensors, "analysis": evaluate, "module": predictor, "model": {"kind": "dataset", "id": 3}})
	refused(d, "model_unknown", "The evaluation names no model entry this node's catalogue lists.")
	d.rules == ["model_unknown"]
}

test_program_outside_a_project_denied if {
	d := decide({"dataset": steel_sensors, "analysis": evaluate, "module": predictor, "model": readmission_model, "project": null})
	refused(d, "program_requires_project", "A program runs on fr-grandest/steel-sensors-2025 only within the active joint project of the federation registry in which it was approved; the request names no project, or one the registry does not know.")
}

test_program_on_sensitive_data_outside_a_project_named_after_the_data if {
	d := decide({"analysis": evaluate, "module": predictor, "model": readmission_model, "project": null})
	d.allow == false
	"sensitive_requires_project" in d.rules
	not "program_requires_project" in d.rules
}

test_evaluation_of_a_model_without_owner_or_id_still_explained if {
	d := decide({"dataset": steel_sensors, "analysis": evaluate, "module": predictor, "model": {"kind": "model"}})
	granted(d, "model_evaluated", "The model  is evaluated against fr-grandest/steel-sensors-2025's rows; only the metrics leave, never a score.")
}
