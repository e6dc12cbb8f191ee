# Tests of membership.rego: the five founding regions vote on new partners.
package xborder.membership_test

import data.xborder.membership

members := [
	{"name": "fr-grandest", "country": "FR"},
	{"name": "de-bw", "country": "DE"},
	{"name": "ch-basel", "country": "CH"},
	{"name": "be-wallonie", "country": "BE"},
	{"name": "lu-luxembourg", "country": "LU"},
]

saarland := {"name": "de-saarland", "country": "DE", "org": "Saarland", "peer_id": "12D3KooWSaarPeer"}

vote(candidate) := d if {
	d := membership.decision with input as {
		"candidate": candidate,
		"members": members,
		"self": {"node": "fr-grandest", "country": "FR"},
	}
}

refused(d, rule, reason) if {
	d.allow == false
	some i
	d.rules[i] == rule
	d.reasons[i] == reason
	d.obligations == []
	d.max_validity_s == 0
}

test_eu_candidate_accepted if {
	d := vote(saarland)
	d.allow == true
	d.rules == ["candidate_eu_eea"]
	d.reasons == ["The candidate de-saarland (Saarland) is in Germany (DE), where the GDPR applies (EU/EEA)."]
	d.obligations == []
	d.max_validity_s == 0
}

test_eea_candidate_accepted if {
	vote({"name": "no-vestland", "country": "NO", "org": "Vestland fylkeskommune"}).allow
}

test_adequate_candidate_accepted if {
	d := vote({"name": "ch-jura", "country": "CH", "org": "République et Canton du Jura"})
	d.allow == true
	d.reasons == ["The candidate ch-jura (République et Canton du Jura) is in Switzerland (CH), which the EU recognises as giving adequate protection to personal data (GDPR art. 45, Commission Decision 2000/518/EC)."]
	d.obligations == []
}

test_us_candidate_accepted_with_dpf_check if {
	d := vote({"name": "us-massachusetts", "country": "us", "org": "Commonwealth of Massachusetts"})
	d.allow == true
	d.rules == ["candidate_adequate"]
	d.obligations == ["Before voting yes, check this condition of the adequacy decision: The receiving organisation in the United States must be certified under the EU-US Data Privacy Framework."]
}

test_candidate_without_adequacy_refused if {
	d := vote({"name": "in-karnataka", "country": "IN", "org": "Government of Karnataka"})
	refused(d, "country_not_adequate", "The candidate in-karnataka is in IN, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45), so personal data could not be shared with it.")
	d.rules == ["country_not_adequate"]
}

test_candidate_without_country_refused if {
	d := vote(object.remove(saarland, ["country"]))
	refused(d, "country_not_adequate", "The candidate de-saarland is in no country, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45), so personal data could not be shared with it.")
}

test_candidate_without_org_refused if {
	d := vote(object.union(saarland, {"org": "  "}))
	refused(d, "org_missing", "The candidate de-saarland names no organisation; a member must say which organisation answers for its node.")
	d.rules == ["org_missing"]
}

test_candidate_without_name_refused if {
	d := vote(object.remove(saarland, ["name"]))
	refused(d, "name_missing", "The candidate has no name; a member is known by its node name, such as de-saarland.")
	d.rules == ["name_missing"]
}

test_name_taken_refused if {
	d := vote(object.union(saarland, {"name": "de-bw"}))
	refused(d, "name_taken", "A member named de-bw already exists; the candidate needs another name.")
	d.rules == ["name_taken"]
}

test_every_refusal_listed if {
	d := vote({"name": "ch-basel", "country": "CN"})
	d.rules == ["country_not_adequate", "name_taken", "org_missing"]
}

test_no_rule_allows_fallback if {
	d := membership.decision with input as {"candidate": saarland} with membership.grants as set()
	d.allow == false
	d.rules == ["no_rule_allows"]
	d.reasons == ["No rule of this node's policy supports this candidate, so this node votes no."]
}

test_non_string_org_refused if {
	d := vote(object.union(saarland, {"org": 42}))
	d.rules == ["org_missing"]
}

test_country_named_only_in_cooperation_area if {
	area := object.union(data.data.jurisdictions.cooperation_area, {"XX": {"name": "Neverland"}})
	d := vote({"name": "xx-region", "country": "XX", "org": "Somewhere"}) with data.data.jurisdictions.cooperation_area as area
	refused(d, "country_not_adequate", "The candidate xx-region is in Neverland (XX), which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45), so personal data could not be shared with it.")
}

rekey_vote(candidate, former) := d if {
	d := membership.decision with input as {
		"candidate": candidate,
		"members": members,
		"self": {"node": "fr-grandest", "country": "FR"},
		"action": "rekey",
		"former_peer_id": former,
	}
}

test_rekey_of_a_member_accepted_with_an_out_of_band_check if {
	d := rekey_vote({"name": "de-bw", "country": "DE", "org": "Baden-Württemberg", "peer_id": "12D3KooWNewKey"}, "12D3KooWOldKey")
	d.allow == true
	d.rules == ["candidate_eu_eea", "rekey_member"]
	d.reasons[1] == "de-bw (Baden-Württemberg) is a member: the vote replaces its node key 12D3KooWOldKey by 12D3KooWNewKey and keeps its name, country and history."
	d.obligations == ["Before voting yes, confirm with the operator of de-bw, by a channel outside the federation (a call to a known number, a signed letter), that peer ID 12D3KooWNewKey is its new node key."]
}

test_rekey_of_a_non_member_refused if {
	d := rekey_vote(saarland, "")
	refused(d, "rekey_not_member", "de-saarland is not a member, so there is no key of it to replace; a new partner is admitted instead.")
	d.rules == ["rekey_not_member"]
}

test_rekey_keeps_the_country_rules if {
	d := rekey_vote({"name": "de-bw", "country": "RU", "org": "X", "peer_id": 7}, 7)
	d.rules == ["country_not_adequate"]
	d.allow == false
}

test_unknown_action_refused if {
	d := membership.decision with input as {"candidate": saarland, "members": members, "action": "merge"}
	refused(d, "action_unknown", `This node votes on admissions (add) and key replacements (rekey), not on "merge".`)
}
