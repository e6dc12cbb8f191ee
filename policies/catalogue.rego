# Catalogue policy: may a partner see this entry of our catalogue?
#
# Asked by the node that serves its catalogue, once per entry and partner,
# and once per entry for the public (its DCAT export and landing pages, with
# input.requester = {"public": true} and no node):
#   data.xborder.catalogue.visible   (true or false)
#   data.xborder.catalogue.reasons   (why an entry is hidden, in sentences)
#   data.xborder.catalogue.decision  (the same, in the common decision shape)
#
# Seeing an entry shows its metadata only (title, description, theme, owner,
# classification); whether the data itself may be shared is decided
# separately by exchange.rego for each request.
#
# Open, restricted and sensitive entries are visible to every member, so that
# researchers can find them and ask. Confidential entries are visible only to
# their owner and to the partners the owner named. An entry without a known
# classification is hidden until its owner classifies it.
#
# A participant of a dataspace that is not a member (input.requester.external,
# browsing this node's catalogue over the Dataspace Protocol) sees what the
# public sees: open entries, and restricted and sensitive entries whose owner
# chose to list them publicly; never a confidential entry.
#
# How the rules are written: a rule that shows the entry adds its name to
# shows, a rule that hides it adds its name to hides, and the sentence for
# each rule name is written right below the rule, in sentence["name"]. The
# visibility needs only the names, so the sentences are written only when a
# decision is explained. The rules test the entry's fields directly
# (input.entry.classification == "confidential"), which lets the engine skip
# at once the rules that cannot apply to an entry.
package xborder.catalogue

default visible := false

# Visible when a rule shows the entry and no rule hides it (by the rules'
# names; the sentences are only written for the decision).
visible if {
	count(shows) > 0
	count(hides) == 0
}

# Why the entry is hidden, as sentences.
reasons := {h.reason | some h in hidden}

# The common decision shape, for `xborder policy eval` and the audit log.
decision := {
	"allow": visible,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": [],
	"max_validity_s": 0,
}

fired := sort([[h.rule, h.reason] | some h in hidden]) if {
	count(hidden) > 0
} else := sort([[s.rule, s.reason] | some s in shown]) if {
	count(shown) > 0
} else := [["no_rule_shows", "No rule of this node's policy shows this entry to your node, so it is hidden."]]

# The rules that show or hide the entry, each with its sentence.
shown := {{"rule": r, "reason": sentence[r]} | some r in shows}

hidden := {{"rule": r, "reason": sentence[r]} | some r in hides}

# Facts about the entry and the requester, for the sentences; a missing field
# counts as "".
requester_node := object.get(input, ["requester", "node"], "")

entry_ref := sprintf("%v/%v", [object.get(input, ["entry", "owner"], ""), object.get(input, ["entry", "id"], "")])

classification := object.get(input, ["entry", "classification"], "")

# The public (a harvesting portal, a visitor of a landing page), not a member.
public_requester if input.requester.public == true

# A participant of a dataspace outside the federation, not a member.
external_requester if input.requester.external == true

owner_or_named_partner if requester_node == input.entry.owner

owner_or_named_partner if requester_node in input.entry.partners

# Metadata of open, restricted and sensitive entries are public within the
# federation: finding data is not getting it (the data itself is protected
# by exchange.rego; catalogue metadata holds no personal data).
shows contains "metadata_visible" if {
	not public_requester
	not external_requester
	input.entry.classification in {"open", "restricted", "sensitive"}
}

sentence["metadata_visible"] := sprintf("The entry %s is %v; its metadata is visible to every member, and access to the data is decided for each request.", [entry_ref, classification])

# Confidential entries: even their existence is shared only with the
# partners the owner named (trade secrets, Directive (EU) 2016/943, and
# confidentiality agreed with data providers).
shows contains "confidential_named_partner" if {
	input.entry.classification == "confidential"
	requester_node != ""
	owner_or_named_partner
	not external_requester
}

sentence["confidential_named_partner"] := sprintf("The entry %s is confidential and visible to your node because the owner named it.", [entry_ref])

hides contains "confidential_not_named" if {
	not public_requester
	not external_requester
	input.entry.classification == "confidential"
	not owner_or_named_partner
}

sentence["confidential_not_named"] := sprintf("The entry %s is confidential; its owner shows it only to the partners it named, and your node %v is not one of them.", [entry_ref, requester_node])

# Open data is listed for the public, in the DCAT-AP catalogue portals
# harvest.
shows contains "open_public" if {
	public_requester
	input.entry.classification == "open"
}

sentence["open_public"] := sprintf("The entry %s is open; it is listed in the public catalogue.", [entry_ref])

# A restricted or sensitive entry is listed for the public when its owner
# chose to (metadata only, with how to ask for access).
shows contains "listed_by_owner" if {
	public_requester
	input.entry.classification in {"restricted", "sensitive"}
	input.entry.public_listing == true
}

sentence["listed_by_owner"] := sprintf("The entry %s is %v; its owner lists it in the public catalogue, where it says how to ask for access.", [entry_ref, classification])

hides contains "not_listed_by_owner" if {
	public_requester
	input.entry.classification in {"restricted", "sensitive"}
	not input.entry.public_listing == true
}

sentence["not_listed_by_owner"] := sprintf("The entry %s is %v and its owner has not chosen to list it in the public catalogue.", [entry_ref, classification])

hides contains "confidential_not_public" if {
	public_requester
	input.entry.classification == "confidential"
}

sentence["confidential_not_public"] := sprintf("The entry %s is confidential; its existence is shown only to the partners its owner named, never to the public.", [entry_ref])

# Without a known classification we cannot tell what the entry reveals.
hides contains "unknown_classification" if {
	not input.entry.classification == "open"
	not input.entry.classification == "restricted"
	not input.entry.classification == "sensitive"
	not input.entry.classification == "confidential"
}

sentence["unknown_classification"] := sprintf("The entry %s has the classification %v, which is none of open, restricted, sensitive or confidential; it is hidden until its owner classifies it.", [entry_ref, json.marshal(classification)])

# ---------------------------------------------------------------------------
# Participants of a dataspace outside the federation (input.requester.external).
# They signed none of the federation's agreements and no project can name
# them, so they see what the public sees, and the data itself is decided
# for each contract negotiation by exchange.rego.
# ---------------------------------------------------------------------------

# Open data is offered to the dataspace, as it is listed for the public.
shows contains "open_dataspace" if {
	external_requester
	input.entry.classification == "open"
}

sentence["open_dataspace"] := sprintf("The entry %s is open; it is offered to participants of the dataspace.", [entry_ref])

# A restricted or sensitive entry is shown to the dataspace when its owner
# listed it publicly: the participant learns that it exists and what access
# needs, as the public register does (Data Governance Act, Art. 8).
shows contains "listed_for_dataspace" if {
	external_requester
	input.entry.classification in {"restricted", "sensitive"}
	input.entry.public_listing == true
}

sentence["listed_for_dataspace"] := sprintf("The entry %s is %v; its owner lists it publicly, so it is shown to participants of the dataspace, and access to the data is decided for each contract negotiation.", [entry_ref, classification])

hides contains "not_listed_for_dataspace" if {
	external_requester
	input.entry.classification in {"restricted", "sensitive"}
	not input.entry.public_listing == true
}

sentence["not_listed_for_dataspace"] := sprintf("The entry %s is %v and its owner has not chosen to list it publicly, so it is shown only to members of the federation, not to participants of the dataspace.", [entry_ref, classification])

# Confidential entries: their existence is shared only with the members the
# owner named, never outside the federation, whatever the owner listed.
hides contains "confidential_not_dataspace" if {
	external_requester
	input.entry.classification == "confidential"
}

sentence["confidential_not_dataspace"] := sprintf("The entry %s is confidential; its existence is shown only to the members of the federation its owner named, never to participants of the dataspace.", [entry_ref])
