# Tests of dataspace.rego: may a researcher of Grand Est take a dataset from
# a provider of a dataspace? Run: xborder policy test (or opa test policies/).
package xborder.dataspace_test

import data.xborder.dataspace

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

day_s := 86400

alice := {"sub": "alice@unistra.fr", "org": "Université de Strasbourg", "role": "researcher"}

# A mobility company's connector in Germany.
acme := {
	"id": "did:web:dataspace.acme-mobility.example",
	"country": "DE",
	"org": "ACME Mobility GmbH",
	"url": "https://connector.acme-mobility.example/dsp",
}

commuters := {
	"id": "urn:uuid:3afeadd8-ed2d-569e-d634-8394a8836d57",
	"title": "Cross-border commuter flows 2025",
	"description": "Daily commuter flows between Alsace and Baden, by municipality.",
	"themes": ["http://publications.europa.eu/resource/authority/data-theme/TRAN"],
	"keywords": ["mobility", "commuting"],
	"license": "https://creativecommons.org/licenses/by/4.0/",
	"publisher": "ACME Mobility GmbH",
}

# An offer as a DSP 2025-1 catalogue carries it: research or statistics only.
research_offer := {
	"@id": "urn:uuid:offer-1",
	"@type": "Offer",
	"permission": [{
		"action": "use",
		"constraint": [{"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["research", "statistics"]}],
	}],
}

base := {
	"researcher": alice,
	"provider": acme,
	"dataset": commuters,
	"offer": research_offer,
	"purpose": "research",
	"self": {"node": "fr-grandest", "country": "FR", "org": "Région Grand Est"},
	"time": "2026-11-26T10:00:00Z",
}

# The base request with some top-level fields replaced.
request(patch) := object.union(object.remove(base, object.keys(patch)), patch)

decide(patch) := d if {
	d := dataspace.decision with input as request(patch)
}

# An offer with these constraints in its one permission.
offer_with(constraints) := {"@id": "urn:uuid:offer-2", "@type": "Offer", "permission": [{"action": "use", "constraint": constraints}]}

# ---------------------------------------------------------------------------
# Allowed
# ---------------------------------------------------------------------------

test_researcher_takes_data_for_a_purpose_the_offer_admits if {
	d := decide({})
	d.allow == true
	d.rules == ["consumer_role", "offer_admits_purpose", "provider_eu_eea", "purpose_in_vocabulary"]
	d.reasons == [
		"The researcher role may take data from a dataspace for this node.",
		`The provider's offer urn:uuid:offer-1 admits the purpose "research".`,
		"The provider did:web:dataspace.acme-mobility.example is in Germany (DE), where the GDPR applies (EU/EEA).",
		`The data are taken for "research", a purpose in the federation's vocabulary.`,
	]
	d.obligations == [
		"Keep to the duties and prohibitions of the provider's offer.",
		`Use the data only for the purpose "research" named in the contract agreement.`,
	]
	d.max_validity_s == 90 * day_s
	dataspace.allow with input as base
}

test_operator_takes_data if {
	d := decide({"researcher": object.union(alice, {"role": "operator"})})
	d.allow == true
	d.rules[0] == "consumer_role"
	d.reasons[0] == "The operator role may take data from a dataspace for this node."
}

test_provider_in_an_adequate_country if {
	d := decide({"provider": object.union(acme, {"country": "ch"})})
	d.allow == true
	d.rules == ["consumer_role", "offer_admits_purpose", "provider_adequate", "purpose_in_vocabulary"]
	d.reasons[2] == "The provider did:web:dataspace.acme-mobility.example is in Switzerland (CH), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Decision 2000/518/EC)."
}

test_provider_in_the_eea if {
	d := decide({"provider": object.union(acme, {"country": "NO"})})
	d.allow == true
	d.reasons[2] == "The provider did:web:dataspace.acme-mobility.example is in Norway (NO), where the GDPR applies (EU/EEA)."
}

test_offer_without_a_purpose_constraint if {
	spatial := offer_with([{"leftOperand": "spatial", "operator": "eq", "rightOperand": "_:EU"}])
	d := decide({"offer": spatial, "purpose": "industrial-rd"})
	d.allow == true
	d.rules == ["consumer_role", "offer_purpose_open", "provider_eu_eea", "purpose_in_vocabulary"]
	d.reasons[1] == "The provider's offer urn:uuid:offer-2 does not limit the purpose."

	# No permission, no constraint, and an offer without an id.
	decide({"offer": {"@type": "Offer", "permission": [{"action": "use"}]}}).reasons[1] == "The provider's offer does not limit the purpose."
	decide({"offer": {"@type": "Offer"}}).allow == true
	decide({"offer": {"@type": "Offer", "permission": "use"}}).allow == true
}

test_every_purpose_of_the_vocabulary_under_an_open_offer if {
	every p, _ in data.data.purposes {
		decide({"offer": {"@id": "urn:uuid:o", "permission": []}, "purpose": p}).allow == true
	}
}

test_offer_purpose_forms if {
	# eq with one value; the odrl: prefix, full IRIs, @id and @value forms.
	decide({"offer": offer_with([{"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}])}).allow == true
	decide({"offer": offer_with([{"leftOperand": "odrl:purpose", "operator": "odrl:eq", "rightOperand": "research"}])}).allow == true
	decide({"offer": offer_with([{
		"leftOperand": {"@id": "http://www.w3.org/ns/odrl/2/purpose"},
		"operator": {"@id": "http://www.w3.org/ns/odrl/2/isAnyOf"},
		"rightOperand": [{"@value": "statistics"}, {"@id": "research"}, 42],
	}])}).allow == true
	decide({"offer": offer_with([{"odrl:leftOperand": "purpose", "odrl:operator": "eq", "odrl:rightOperand": {"@value": "research"}}])}).allow == true

	# A single permission and a single constraint as objects, not lists.
	decide({"offer": {"odrl:permission": {"action": "use", "odrl:constraint": {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}}}}).allow == true
	decide({"offer": {"permission": {"action": "use", "constraint": {"leftOperand": "purpose", "operator": "eq", "rightOperand": "statistics"}}}}).allow == false
}

test_offer_excluding_other_purposes if {
	d := decide({"offer": offer_with([{"leftOperand": "purpose", "operator": "neq", "rightOperand": "industrial-rd"}])})
	d.allow == true
	d.rules[1] == "offer_admits_purpose"
	decide({"offer": offer_with([{"leftOperand": "purpose", "operator": "isNoneOf", "rightOperand": ["industrial-rd", "education"]}])}).allow == true
	decide({"offer": offer_with([{"leftOperand": "purpose", "operator": "isNoneOf", "rightOperand": ["research"]}])}).rules == ["offer_purpose_excluded"]
}

test_one_permission_of_several_admits if {
	offer := {"@id": "urn:uuid:offer-3", "permission": [
		{"action": "use", "constraint": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "education"}]},
		{"action": "use", "constraint": [
			{"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"},
			{"leftOperand": "spatial", "operator": "eq", "rightOperand": "_:EU"},
		]},
	]}
	decide({"offer": offer}).allow == true
	decide({"offer": offer, "purpose": "education"}).allow == true
	d := decide({"offer": offer, "purpose": "statistics"})
	d.rules == ["offer_purpose_excluded"]
	d.reasons == [`The provider's offer urn:uuid:offer-3 admits the data only for "education", "research", not for the purpose "statistics".`]
}

test_constraint_of_another_shape_is_not_on_the_purpose if {
	decide({"offer": offer_with([{"leftOperand": 42, "operator": "eq", "rightOperand": "education"}])}).rules[1] == "offer_purpose_open"
	decide({"offer": offer_with([{"leftOperand": {"@id": 42}, "operator": "eq", "rightOperand": "education"}])}).rules[1] == "offer_purpose_open"
	decide({"offer": offer_with([{"leftOperand": "purpose", "operator": null, "rightOperand": "research"}])}).rules == ["offer_purpose_excluded"]
}

test_logical_constraint_without_purpose if {
	offer := offer_with([{"and": [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "_:EU"}]}])
	decide({"offer": offer}).rules[1] == "offer_purpose_open"
}

# ---------------------------------------------------------------------------
# Refused
# ---------------------------------------------------------------------------

test_offer_excludes_the_purpose if {
	d := decide({"purpose": "industrial-rd"})
	d.allow == false
	d.rules == ["offer_purpose_excluded"]
	d.reasons == [`The provider's offer urn:uuid:offer-1 admits the data only for "research", "statistics", not for the purpose "industrial-rd".`]
	d.obligations == []
	d.max_validity_s == 0
}

unread := `The provider's offer urn:uuid:offer-2 limits the purpose in a way that does not admit "research", or that this node's policy does not read (a constraint with another operator, or within and, or, xone).`

test_offer_purpose_the_policy_does_not_read if {
	# An operator the policy does not know admits nothing.
	d := decide({"offer": offer_with([{"leftOperand": "purpose", "operator": "isA", "rightOperand": "research"}])})
	d.rules == ["offer_purpose_excluded"]
	d.reasons == [unread]

	# Nor does a purpose within a logical constraint, however deep.
	deep := offer_with([{"or": [
		{"leftOperand": "spatial", "operator": "eq", "rightOperand": "_:EU"},
		{"and": [{"leftOperand": "odrl:purpose", "operator": "eq", "rightOperand": "research"}]},
	]}])
	decide({"offer": deep}).reasons == [unread]
}

test_roles_that_do_not_take_data if {
	every r in ["legal", "auditor", "admin"] {
		d := decide({"researcher": object.union(alice, {"role": r})})
		d.allow == false
		d.rules == ["role_not_permitted"]
		d.reasons == [sprintf("Only researchers and operators of this node take data from a dataspace; your role is %q.", [r])]
	}
	decide({"researcher": {}}).reasons == [`Only researchers and operators of this node take data from a dataspace; your role is "".`]
	decide({"researcher": null}).rules == ["role_not_permitted"]
	decide({"researcher": {"role": ["researcher"]}}).rules == ["role_not_permitted"]
}

test_purpose_missing if {
	d := decide({"purpose": "  "})
	d.rules == ["offer_purpose_excluded", "purpose_missing"]
	d.reasons[1] == "The request states no purpose; say what the data will be used for."
	e := decide({"purpose": null, "offer": {"@id": "x"}})
	e.rules == ["purpose_missing"]
}

test_unknown_purpose if {
	d := decide({"purpose": "marketing", "offer": {}})
	d.rules == ["unknown_purpose"]
	d.reasons == [`The purpose "marketing" is not in the federation's purpose vocabulary (education, industrial-rd, public-health, research, statistics); data are taken from a dataspace only for one of those.`]
}

test_provider_outside_adequacy if {
	d := decide({"provider": object.union(acme, {"country": "IN"})})
	d.rules == ["provider_not_adequate"]
	d.reasons == ["The provider did:web:dataspace.acme-mobility.example is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); this node takes data only from providers where EU data protection applies or is recognised as adequate."]
	e := decide({"provider": object.remove(acme, ["country"])})
	e.reasons == ["The provider did:web:dataspace.acme-mobility.example is in a country this node's configuration does not name, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); this node takes data only from providers where EU data protection applies or is recognised as adequate."]
}

test_provider_missing if {
	d := decide({"provider": {"country": "DE"}})
	d.rules == ["provider_missing"]
	d.reasons == ["The request names no provider; data are taken only from a provider named by its participant id."]
	decide({"provider": null}).rules == ["provider_missing", "provider_not_adequate"]
}

test_offer_missing if {
	every o in [null, "urn:uuid:offer-1", [research_offer]] {
		d := decide({"offer": o})
		d.rules == ["offer_missing"]
		d.reasons == ["The request carries no offer of the provider; data are taken only under an offer that says what they may be used for."]
	}
	decide({"offer": {"@id": 7}}).reasons[1] == "The provider's offer does not limit the purpose."
}

test_every_refusal_is_listed if {
	d := dataspace.decision with input as {"researcher": {"role": "legal"}, "offer": offer_with([{"leftOperand": "purpose", "operator": "eq", "rightOperand": "education"}])}
	d.rules == ["offer_purpose_excluded", "provider_missing", "provider_not_adequate", "purpose_missing", "role_not_permitted"]
	dataspace.decision with input as {} == {
		"allow": false,
		"rules": ["offer_missing", "provider_missing", "provider_not_adequate", "purpose_missing", "role_not_permitted"],
		"reasons": [
			"The request carries no offer of the provider; data are taken only under an offer that says what they may be used for.",
			"The request names no provider; data are taken only from a provider named by its participant id.",
			"The provider  is in a country this node's configuration does not name, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); this node takes data only from providers where EU data protection applies or is recognised as adequate.",
			"The request states no purpose; say what the data will be used for.",
			`Only researchers and operators of this node take data from a dataspace; your role is "".`,
		],
		"obligations": [],
		"max_validity_s": 0,
	}
}

test_no_rule_allows if {
	d := dataspace.decision with input as base with dataspace.grants as set()
	d.allow == false
	d.rules == ["no_rule_allows"]
	d.reasons == ["No rule of this node's policy lets it take this dataset from the dataspace, so it is refused."]
}
