# Tests of audit.rego: who may verify this node's audit trail.
package xborder.audit_test

import data.xborder.audit

fr := {"node": "fr-grandest", "country": "FR"}

decide(requester, detail) := d if {
	d := audit.decision with input as {"requester": requester, "self": fr, "detail": detail}
}

test_member_verifies_the_chain if {
	d := decide({"node": "de-bw", "country": "DE"}, "chain")
	d.allow == true
	d.rules == ["chain_to_members"]
	d.reasons == ["de-bw, a member of the federation, may verify the hash chain, signatures and registry anchors of fr-grandest's audit trail; the records' content is not disclosed."]
	d.obligations == []
	d.max_validity_s == 0
}

test_records_are_withheld if {
	d := decide({"node": "de-bw", "country": "DE"}, "records")
	d.allow == false
	d.rules == ["records_withheld"]
	d.reasons == ["fr-grandest discloses only the links of its hash chain (sequence, previous hash, hash, signature), not what its records say, which names researchers and datasets; verify with the chain."]
}

test_stranger_is_refused if {
	d := decide({"node": "", "country": "US"}, "chain")
	d.allow == false
	d.rules == ["not_member"]
}

test_unknown_detail if {
	d := decide({"node": "de-bw", "country": "DE"}, "everything")
	d.allow == false
	d.rules == ["unknown_detail"]
	d.reasons == [`"everything" is not a level of detail this node discloses; ask for "chain".`]
}

test_malformed_input if {
	d := audit.decision with input as {"requester": {"node": 7}, "detail": 3}
	d.allow == false
	d.rules == ["not_member", "unknown_detail"]
}

test_no_rule_allows_fallback if {
	d := audit.decision with input as {} with audit.deny as set()
	d.rules == ["no_rule_allows"]
	d.allow == false
}
