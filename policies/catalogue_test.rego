# Tests of catalogue.rego with the five partner regions.
package xborder.catalogue_test

import data.xborder.catalogue

de := {"node": "de-bw", "country": "DE", "org": "Land Baden-Württemberg"}

lu := {"node": "lu-luxembourg", "country": "LU", "org": "Grand-Duché de Luxembourg"}

fr := {"node": "fr-grandest", "country": "FR", "org": "Région Grand Est"}

icu := {
	"id": "icu-admissions-2025",
	"owner": "fr-grandest",
	"kind": "dataset",
	"classification": "sensitive",
	"theme": "health",
	"partners": [],
}

# A confidential industrial dataset that Grand Est shares with Baden-Württemberg only.
battery := {
	"id": "battery-line-telemetry",
	"owner": "fr-grandest",
	"kind": "dataset",
	"classification": "confidential",
	"theme": "industry",
	"partners": ["de-bw"],
}

view(requester, e) := {"visible": v, "reasons": r, "decision": d} if {
	v := catalogue.visible with input as {"requester": requester, "entry": e}
	r := catalogue.reasons with input as {"requester": requester, "entry": e}
	d := catalogue.decision with input as {"requester": requester, "entry": e}
}

test_open_restricted_sensitive_visible_to_every_member if {
	every c in ["open", "restricted", "sensitive"] {
		view(lu, object.union(icu, {"classification": c})).visible == true
	}
}

test_sensitive_visible_reason if {
	v := view(lu, icu)
	v.reasons == set()
	v.decision.allow == true
	v.decision.rules == ["metadata_visible"]
	v.decision.reasons == ["The entry fr-grandest/icu-admissions-2025 is sensitive; its metadata is visible to every member, and access to the data is decided for each request."]
}

test_confidential_visible_to_named_partner if {
	v := view(de, battery)
	v.visible == true
	v.decision.rules == ["confidential_named_partner"]
	v.decision.reasons == ["The entry fr-grandest/battery-line-telemetry is confidential and visible to your node because the owner named it."]
}

test_confidential_visible_to_owner if {
	view(fr, battery).visible == true
}

test_confidential_hidden_from_other_members if {
	v := view(lu, battery)
	v.visible == false
	v.reasons == {"The entry fr-grandest/battery-line-telemetry is confidential; its owner shows it only to the partners it named, and your node lu-luxembourg is not one of them."}
	v.decision.rules == ["confidential_not_named"]
	v.decision.obligations == []
	v.decision.max_validity_s == 0
}

test_confidential_without_partners_hidden if {
	view(de, object.union(battery, {"partners": []})).visible == false
	view(de, object.remove(battery, ["partners"])).visible == false
}

test_unknown_classification_hidden if {
	v := view(de, object.union(icu, {"classification": "secret"}))
	v.visible == false
	v.reasons == {`The entry fr-grandest/icu-admissions-2025 has the classification "secret", which is none of open, restricted, sensitive or confidential; it is hidden until its owner classifies it.`}
	v.decision.rules == ["unknown_classification"]
}

test_nothing_shown_without_requester if {
	v := view({}, battery)
	v.visible == false
	v.decision.rules == ["confidential_not_named"]
}

test_default_hidden_when_no_rule_shows if {
	d := catalogue.decision with input as {"requester": {"node": ""}, "entry": battery}
		with catalogue.hidden as set()
	d.allow == false
	d.rules == ["no_rule_shows"]
	d.reasons == ["No rule of this node's policy shows this entry to your node, so it is hidden."]
}

test_missing_entry_hidden if {
	v := view(de, null)
	v.visible == false
	v.decision.rules == ["unknown_classification"]
	v.reasons == {`The entry / has the classification "", which is none of open, restricted, sensitive or confidential; it is hidden until its owner classifies it.`}
}

public := {"public": true}

test_open_listed_for_the_public if {
	v := view(public, object.union(icu, {"classification": "open"}))
	v.visible == true
	v.decision.rules == ["open_public"]
	v.decision.reasons == ["The entry fr-grandest/icu-admissions-2025 is open; it is listed in the public catalogue."]
}

test_restricted_sensitive_listed_for_the_public_when_owner_chose if {
	every c in ["restricted", "sensitive"] {
		view(public, object.union(icu, {"classification": c, "public_listing": true})).visible == true
	}
	v := view(public, object.union(icu, {"public_listing": true, "personal_data": true}))
	v.visible == true
	v.decision.rules == ["listed_by_owner"]
	v.decision.reasons == ["The entry fr-grandest/icu-admissions-2025 is sensitive; its owner lists it in the public catalogue, where it says how to ask for access."]
}

test_restricted_sensitive_hidden_from_the_public_by_default if {
	every c in ["restricted", "sensitive"] {
		view(public, object.union(icu, {"classification": c})).visible == false
		view(public, object.union(icu, {"classification": c, "public_listing": false})).visible == false
	}
	v := view(public, icu)
	v.decision.rules == ["not_listed_by_owner"]
	v.reasons == {"The entry fr-grandest/icu-admissions-2025 is sensitive and its owner has not chosen to list it in the public catalogue."}
}

test_confidential_never_listed_for_the_public if {
	v := view(public, object.union(battery, {"public_listing": true}))
	v.visible == false
	v.decision.rules == ["confidential_not_public"]
	v.reasons == {"The entry fr-grandest/battery-line-telemetry is confidential; its existence is shown only to the partners its owner named, never to the public."}
	view(public, battery).visible == false
}

test_unknown_classification_hidden_from_the_public if {
	v := view(public, object.union(icu, {"classification": "secret", "public_listing": true}))
	v.visible == false
	v.decision.rules == ["unknown_classification"]
}

test_public_listing_changes_no_member_view if {
	every c in ["open", "restricted", "sensitive"] {
		v := view(lu, object.union(icu, {"classification": c, "public_listing": true}))
		v.visible == true
		v.decision.rules == ["metadata_visible"]
	}
	view(lu, object.union(battery, {"public_listing": true})).visible == false
	view(de, object.union(battery, {"public_listing": true})).visible == true
}

test_public_false_is_a_member_view if {
	view({"node": "lu-luxembourg", "public": false}, icu).visible == true
	view({"node": "lu-luxembourg", "public": false}, battery).visible == false
}

# A participant of a dataspace outside the federation, as the node's
# configuration lists it.
acme := {"node": "did:web:dataspace.acme-mobility.example", "country": "DE", "org": "ACME Mobility GmbH", "external": true}

test_open_offered_to_the_dataspace if {
	v := view(acme, object.union(icu, {"classification": "open", "personal_data": false}))
	v.visible == true
	v.decision.rules == ["open_dataspace"]
	v.decision.reasons == ["The entry fr-grandest/icu-admissions-2025 is open; it is offered to participants of the dataspace."]
}

test_restricted_sensitive_shown_to_the_dataspace_when_listed_publicly if {
	every c in ["restricted", "sensitive"] {
		v := view(acme, object.union(icu, {"classification": c, "public_listing": true}))
		v.visible == true
		v.decision.rules == ["listed_for_dataspace"]
	}
	v := view(acme, object.union(icu, {"public_listing": true}))
	v.decision.reasons == ["The entry fr-grandest/icu-admissions-2025 is sensitive; its owner lists it publicly, so it is shown to participants of the dataspace, and access to the data is decided for each contract negotiation."]
}

test_restricted_sensitive_hidden_from_the_dataspace_by_default if {
	every c in ["restricted", "sensitive"] {
		view(acme, object.union(icu, {"classification": c})).visible == false
		view(acme, object.union(icu, {"classification": c, "public_listing": false})).visible == false
	}
	v := view(acme, object.union(icu, {"classification": "restricted"}))
	v.decision.rules == ["not_listed_for_dataspace"]
	v.reasons == {"The entry fr-grandest/icu-admissions-2025 is restricted and its owner has not chosen to list it publicly, so it is shown only to members of the federation, not to participants of the dataspace."}
}

test_confidential_never_shown_to_the_dataspace if {
	v := view(acme, object.union(battery, {"public_listing": true}))
	v.visible == false
	v.decision.rules == ["confidential_not_dataspace"]
	v.reasons == {"The entry fr-grandest/battery-line-telemetry is confidential; its existence is shown only to the members of the federation its owner named, never to participants of the dataspace."}

	# Not even when the owner's list of partners happens to hold the
	# participant's id: the list names members.
	named := object.union(battery, {"partners": ["de-bw", acme.node]})
	view(acme, named).visible == false
	view(acme, named).decision.rules == ["confidential_not_dataspace"]
}

test_unknown_classification_hidden_from_the_dataspace if {
	v := view(acme, object.union(icu, {"classification": "secret", "public_listing": true}))
	v.visible == false
	v.decision.rules == ["unknown_classification"]
}

test_external_false_is_a_member_view if {
	v := view(object.union(de, {"external": false}), battery)
	v.visible == true
	v.decision.rules == ["confidential_named_partner"]
	view(object.union(lu, {"external": false}), icu).decision.rules == ["metadata_visible"]
}
