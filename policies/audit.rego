# Audit policy: may a partner verify this node's audit trail, and see how
# much of it?
#
# Asked by this node when a partner runs `xborder audit verify --peer` on it:
#   data.xborder.audit.decision
#
# Input: {"requester": {"node", "country"}, "self": {"node", "country"},
#         "detail": "chain" | "records"}.
# requester.node is "" when the peer is not a member of the federation.
#
# "chain" sends only what the hash chain needs: each record's sequence
# number, the hash of the record before, its own hash and its signature. A
# partner checks with them that the trail is whole, signed by this node and
# matches every anchor in the registry, and learns nothing of what the
# records say. "records" sends the records themselves, which name
# researchers, datasets and decisions: personal data of the researchers and
# confidential facts of this region.
#
# The answer is {allow, reasons, rules, obligations, max_validity_s};
# obligations are always empty and max_validity_s is 0 (not applicable).
package xborder.audit

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
} else := [["no_rule_allows", "No rule of this node's policy lets this partner verify its audit trail."]]

requester := input.requester.node if {
	is_string(input.requester.node)
} else := ""

self_name := input.self.node if {
	is_string(input.self.node)
} else := ""

detail := input.detail if {
	is_string(input.detail)
} else := ""

deny contains {
	"rule": "not_member",
	"reason": "The peer that asks is not a member of the federation; only members verify each other's audit trails.",
} if {
	requester == ""
}

deny contains {
	"rule": "unknown_detail",
	"reason": sprintf("%v is not a level of detail this node discloses; ask for \"chain\".", [json.marshal(object.get(input, "detail", null))]),
} if {
	not detail in {"chain", "records"}
}

# The records name researchers and datasets: this policy keeps them inside
# the region. A legal team that agrees to show them to a partner (for an
# inspection, say) adds a grant for "records" for that partner here.
deny contains {
	"rule": "records_withheld",
	"reason": sprintf("%s discloses only the links of its hash chain (sequence, previous hash, hash, signature), not what its records say, which names researchers and datasets; verify with the chain.", [self_name]),
} if {
	detail == "records"
}

grants contains {
	"rule": "chain_to_members",
	"reason": sprintf("%s, a member of the federation, may verify the hash chain, signatures and registry anchors of %s's audit trail; the records' content is not disclosed.", [requester, self_name]),
} if {
	requester != ""
	detail == "chain"
}
