# Tests of agreements.rego: Grand Est proposes to share its tumour
# segmentation model, trained on French and German data, with Baden-Württemberg.
package xborder.agreements_test

import data.xborder.agreements

now := "2026-11-26T10:00:00Z"

fr := {"node": "fr-grandest", "country": "FR"}

de := {"node": "de-bw", "country": "DE"}

ch := {"node": "ch-basel", "country": "CH"}

be := {"node": "be-wallonie", "country": "BE"}

# Hypothetical members outside the cooperation area.
in_party := {"node": "in-karnataka", "country": "IN"}

us_party := {"node": "us-massachusetts", "country": "US"}

tumour_seg := {
	"owner": "fr-grandest",
	"id": "tumour-seg-v2",
	"personal_data": true,
	"theme": "health",
	"training_datasets": [
		{"owner": "fr-grandest", "id": "icu-admissions-2025", "personal_data": true},
		{"owner": "de-bw", "id": "radiology-atlas-2024", "personal_data": false},
	],
}

# A predictive-maintenance model trained on industrial data only.
press_model := {
	"owner": "de-bw",
	"id": "press-line-maintenance",
	"personal_data": false,
	"theme": "industry",
	"training_datasets": [{"owner": "de-bw", "id": "press-line-sensors", "personal_data": false}],
}

agr1 := {
	"id": "agr-1",
	"model": tumour_seg,
	"parties": [fr, de],
	"purposes": ["research"],
	"valid_from": "2026-01-01T00:00:00Z",
	"valid_until": "2027-01-01T00:00:00Z",
	"conditions": "Results are published jointly; no commercial use.",
}

base := {"agreement": agr1, "proposer": fr, "self": de, "time": now}

# An object with some top-level fields replaced.
patched(obj, patch) := object.union(object.remove(obj, object.keys(patch)), patch)

# The decision for the base input with the agreement patched.
decide(patch) := d if {
	d := agreements.decision with input as patched(base, {"agreement": patched(agr1, patch)})
}

refused(d, rule, reason) if {
	d.allow == false
	some i
	d.rules[i] == rule
	d.reasons[i] == reason
	d.obligations == []
	d.max_validity_s == 0
}

test_health_model_between_fr_and_de_signed if {
	d := decide({})
	d.allow == true
	d.rules == ["agreement_acceptable", "health_model_safeguards", "provenance"]
	d.reasons == [
		"This node de-bw is a party to agreement agr-1 on the model fr-grandest/tumour-seg-v2 with fr-grandest; its purposes (research) are in the federation's vocabulary and it runs until 2027-01-01T00:00:00Z, at most three years.",
		"The model was trained on personal health data; every party is in the EU/EEA or an adequate country and every purpose is research-like (GDPR art. 9, 45 and 89).",
		"Every region whose datasets trained the model (de-bw, fr-grandest) is a party.",
	]
	d.obligations == ["Use and share the model fr-grandest/tumour-seg-v2 only under agreement agr-1, for its purposes, until 2027-01-01T00:00:00Z."]

	# 35 days and 14 hours until the agreement ends.
	d.max_validity_s == (35 * 86400) + (14 * 3600)
}

test_owner_signs_too if {
	d := agreements.decision with input as object.union(base, {"self": fr})
	d.allow == true
}

test_swiss_party_is_adequate if {
	d := decide({"parties": [fr, de, ch], "purposes": ["research", "public-health", "statistics"]})
	d.allow == true
}

test_industrial_model_for_industrial_rd_signed if {
	d := decide({"model": press_model, "parties": [de, be], "purposes": ["industrial-rd", "education"]})
	d.allow == true
	d.rules == ["agreement_acceptable", "provenance"]
}

test_industrial_model_outside_adequacy_signed if {
	d := decide({"model": press_model, "parties": [de, in_party], "purposes": ["industrial-rd"]})
	d.allow == true
}

test_model_without_training_datasets_signed if {
	d := decide({"model": object.remove(press_model, ["training_datasets"]), "parties": [de, be]})
	d.allow == true
	d.rules == ["agreement_acceptable"]
}

test_not_a_party_refuses if {
	d := agreements.decision with input as object.union(base, {"self": be})
	refused(d, "self_not_party", "This node be-wallonie is not a party to agreement agr-1, so it has nothing to sign.")
	d.rules == ["self_not_party"]
}

test_single_party_refused if {
	d := decide({"model": press_model, "parties": [de, de]})
	refused(d, "too_few_parties", "Agreement agr-1 names fewer than two distinct parties; a model-sharing agreement needs at least two.")
}

test_owner_must_be_party if {
	d := decide({"model": press_model, "parties": [fr, be], "purposes": ["research"]})
	d.allow == false
	d.rules == ["model_owner_not_party", "self_not_party", "training_data_owner_not_party"]
	refused(d, "model_owner_not_party", "The model's owner de-bw is not a party to agreement agr-1; only its owner can share the model de-bw/press-line-maintenance.")
}

test_training_data_region_must_be_party if {
	d := agreements.decision with input as object.union(base, {"agreement": object.union(agr1, {"parties": [fr, ch]}), "self": ch})
	refused(d, "training_data_owner_not_party", "Datasets of de-bw trained the model fr-grandest/tumour-seg-v2, but de-bw is not a party to agreement agr-1; every region whose data trained a model must be a party.")
	d.rules == ["training_data_owner_not_party"]
}

test_purpose_missing_refused if {
	d := decide({"purposes": []})
	refused(d, "purpose_missing", "Agreement agr-1 names no purpose; an agreement must say what the model will be used for.")
}

test_unknown_purpose_refused if {
	d := decide({"model": press_model, "parties": [de, be], "purposes": ["industrial-rd", "advertising"]})
	refused(d, "unknown_purpose", `The purpose "advertising" of agreement agr-1 is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics).`)
	d.rules == ["unknown_purpose"]
}

test_health_model_for_industrial_rd_refused if {
	d := decide({"purposes": ["research", "industrial-rd"]})
	refused(d, "health_model_research_only", `The model fr-grandest/tumour-seg-v2 was trained on personal health data (GDPR art. 9), so it is shared only for research, statistics or public health (GDPR art. 89); the purpose "industrial-rd" is not one of those.`)
	d.rules == ["health_model_research_only"]
}

test_training_data_with_personal_data_counts_as_health_model if {
	model := object.union(press_model, {"training_datasets": [{"owner": "de-bw", "id": "workers-shifts", "personal_data": true}]})
	d := decide({"model": model, "parties": [de, be], "purposes": ["industrial-rd"]})
	refused(d, "health_model_research_only", `The model de-bw/press-line-maintenance was trained on personal health data (GDPR art. 9), so it is shared only for research, statistics or public health (GDPR art. 89); the purpose "industrial-rd" is not one of those.`)
}

test_health_model_outside_adequacy_refused if {
	d := decide({"parties": [fr, de, in_party]})
	refused(d, "party_not_adequate", "The model fr-grandest/tumour-seg-v2 was trained on personal health data, and party in-karnataka is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45).")
	d.rules == ["party_not_adequate"]
}

test_health_model_party_without_country_refused if {
	d := decide({"parties": [fr, de, {"node": "lu-luxembourg"}]})
	refused(d, "party_not_adequate", "The model fr-grandest/tumour-seg-v2 was trained on personal health data, and party lu-luxembourg is in an unknown country, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45).")
}

test_health_model_to_us_adds_dpf_obligation if {
	d := decide({"parties": [fr, de, us_party]})
	d.allow == true
	d.obligations == [
		"For party us-massachusetts: The receiving organisation in the United States must be certified under the EU-US Data Privacy Framework.",
		"Use and share the model fr-grandest/tumour-seg-v2 only under agreement agr-1, for its purposes, until 2027-01-01T00:00:00Z.",
	]
}

test_invalid_dates_refused if {
	d := decide({"valid_until": "next year"})
	refused(d, "invalid_dates", "Agreement agr-1 needs valid_from and valid_until as RFC 3339 timestamps (for example 2026-01-01T00:00:00Z).")
	d.rules == ["invalid_dates"]
}

test_end_before_start_refused if {
	d := decide({"valid_from": "2027-01-01T00:00:00Z", "valid_until": "2026-12-31T00:00:00Z"})
	refused(d, "validity_order", "Agreement agr-1 ends (2026-12-31T00:00:00Z) before or when it starts (2027-01-01T00:00:00Z).")
}

test_three_years_allowed if {
	decide({"valid_until": "2029-01-01T00:00:00Z"}).allow
}

test_longer_than_three_years_refused if {
	d := decide({"valid_until": "2029-01-01T00:00:01Z"})
	refused(d, "validity_too_long", "Agreement agr-1 runs from 2026-01-01T00:00:00Z until 2029-01-01T00:00:01Z, longer than the three years an agreement may last.")
	d.rules == ["validity_too_long"]
}

test_expired_refused if {
	d := decide({"valid_until": "2026-11-26T10:00:00Z"})
	refused(d, "agreement_expired", "Agreement agr-1 ended on 2026-11-26T10:00:00Z; an agreement that is already over cannot be signed.")
	d.rules == ["agreement_expired"]
}

test_missing_time_refused if {
	d := agreements.decision with input as object.remove(base, ["time"])
	refused(d, "agreement_expired", "Agreement agr-1 ended on 2027-01-01T00:00:00Z; an agreement that is already over cannot be signed.")
}

test_empty_input_refused if {
	d := agreements.decision with input as {}
	d.allow == false
	d.rules == ["invalid_dates", "model_owner_not_party", "purpose_missing", "self_not_party", "too_few_parties"]
}

test_no_rule_allows_fallback if {
	d := agreements.decision with input as base with agreements.grants as set() with agreements.deny as set()
	d.allow == false
	d.rules == ["no_rule_allows"]
	d.reasons == ["No rule of this node's policy allows signing this agreement, so it is not signed."]
}

test_norwegian_party_is_eu_eea if {
	decide({"parties": [fr, de, {"node": "no-vestland", "country": "no"}]}).allow
}

test_agreement_without_model_refused if {
	d := decide({"model": "fr-grandest/tumour-seg-v2"})
	refused(d, "model_owner_not_party", "The model's owner  is not a party to agreement agr-1; only its owner can share the model /.")
}
