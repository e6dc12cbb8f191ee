# Identity policy: which role does a person signed in through an identity
# provider (OpenID Connect) get at this node?
#
# Asked by the node when a researcher signs in at the console, or an API
# client presents an access token from a configured issuer:
#   data.xborder.api.role   ("researcher", "operator", "auditor", "legal",
#                            or "" for none: the sign-in is refused)
#
# Input: {"identity": {"issuer", "subject", "email", "groups",
#                      "entitlements", "affiliation"}}, as the issuer's
# verified token says (the claims each is read from are configured per
# issuer: by default "eduperson_entitlement" and
# "eduperson_scoped_affiliation", as eduGAIN proxies and LS Login send them,
# and "groups", as Keycloak sends them).
#
# The role then decides what the person may call (api.rego), as for a
# node-signed token.
#
# What is shipped, on purpose conservative:
#   - only identities from trusted_issuers get a role at all: an issuer
#     nobody listed here vouches for no one, whatever its claims say;
#   - an entitlement listed in entitlement_roles gives its role (exact
#     match: "urn:...:researchers#aai.lifescience-ri.eu" is not
#     "urn:...:researchers:admins#...");
#   - a group listed for its issuer in group_roles gives its role (none
#     shipped: group names mean something only at their issuer);
#   - staff, faculty or employee (eduPersonScopedAffiliation) of a listed
#     research organisation makes a researcher; "member@" alone does not,
#     since eduPerson counts students as members; students, affiliates and
#     walk-in users get no role;
#   - operator comes from no claim: operators keep their node-signed tokens.
# When several apply, an entitlement or group beats an affiliation, and
# among those role_precedence decides.
#
# To change it, a legal team edits the tables below (and adds a test to
# api_identity_test.rego): e.g. "staff of uni-basel.ch are researchers" is
# "unibas.ch" in research_organisations; "the group xborder-legal of our
# Keycloak are legal" is group_roles[<issuer>]["xborder-legal"] := "legal".
#
# Legal ground: least privilege (GDPR art. 25 and 32): a person reaches the
# role their institution vouches for, no more.
package xborder.api

# Issuers whose identities this node accepts, with what they are. Each is
# one rule, so a region adds its own in a file of its own (package
# xborder.api) without editing this one, e.g. local_identity.rego:
#   trusted_issuers["https://keycloak.region.example/realms/research"] := "Our Keycloak"
trusted_issuers["https://login.aai.lifescience-ri.eu/oidc/"] := "LS Login" # the life-science research infrastructures' login (eduGAIN identities and others)

trusted_issuers["https://proxy.myaccessid.org/"] := "MyAccessID (eduGAIN)" # GÉANT's proxy for eduGAIN identities

# eduPersonEntitlement values (AARC-G002 group URNs) and the role each gives.
entitlement_roles := {
	"urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu": "researcher",
	"urn:geant:lifescience-ri.eu:group:xborder:auditors#aai.lifescience-ri.eu": "auditor",
	"urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu": "legal",
	"urn:geant:myaccessid.org:group:xborder:researchers#myaccessid.org": "researcher",
	"urn:geant:myaccessid.org:group:xborder:auditors#myaccessid.org": "auditor",
	"urn:geant:myaccessid.org:group:xborder:legal#myaccessid.org": "legal",
}

# The authority of the entitlement URNs each issuer may assert (what
# follows "#" in the URN): one rule per issuer.
entitlement_authorities["https://login.aai.lifescience-ri.eu/oidc/"] := "aai.lifescience-ri.eu"

entitlement_authorities["https://proxy.myaccessid.org/"] := "myaccessid.org"

# Groups, per issuer, and the role each gives: group_roles[issuer] :=
# {group: role}, one rule per issuer (none shipped: group names mean
# something only at their issuer).
#   group_roles["https://keycloak.region.example/realms/research"] := {"xborder-legal": "legal"}
group_roles[issuer] := roles if {
	some issuer, roles in shipped_group_roles
}

shipped_group_roles := {}

# Organisations (the scope of eduPersonScopedAffiliation) whose staff are
# researchers here: the Eucor universities of the Upper Rhine. A region
# adds one with `research_organisations contains "uni.lu"`.
research_organisations contains org if {
	some org in {
		"uni-freiburg.de",
		"kit.edu",
		"unibas.ch",
		"unistra.fr",
		"uha.fr",
	}
}

# The affiliations that make a researcher of a listed organisation.
researcher_affiliations := {"staff", "faculty", "employee"}

# When several roles apply, the first of these wins.
role_precedence := ["operator", "legal", "auditor", "researcher"]

# ---------------------------------------------------------------------------
# The decision.
# ---------------------------------------------------------------------------

default role := ""

role := first_role(explicit_roles) if {
	count(explicit_roles) > 0
} else := first_role(affiliation_roles) if {
	count(affiliation_roles) > 0
}

# ---------------------------------------------------------------------------
# Facts about the identity.
# ---------------------------------------------------------------------------

identity_trusted if trusted_issuers[input.identity.issuer]

# identity_list(name) is input.identity[name] if it is a list, its strings
# only; [] otherwise.
identity_list(name) := [x | some x in input.identity[name]; is_string(x)] if {
	is_array(input.identity[name])
} else := []

explicit_roles contains r if {
	identity_trusted
	some e in identity_list("entitlements")
	r := entitlement_roles[e]
	entitlement_from_its_authority(e)
}

# An entitlement URN names the authority that manages the group after its
# "#" (AARC-G002); it counts only from the issuer of that authority, so a
# trusted issuer cannot hand out another infrastructure's groups.
entitlement_from_its_authority(e) if {
	parts := split(e, "#")
	count(parts) == 2
	entitlement_authorities[input.identity.issuer] == parts[1]
}

explicit_roles contains r if {
	identity_trusted
	some g in identity_list("groups")
	r := group_roles[input.identity.issuer][g]
}

affiliation_roles contains "researcher" if {
	identity_trusted
	some a in identity_list("affiliation")
	[kind, org] := split(a, "@")
	researcher_affiliations[kind]
	research_organisations[org]
}

# ---------------------------------------------------------------------------
# Why an identity gets no role, in sentences the person reads on the
# refusal (data.xborder.api.role_reasons; empty when it has a role).
# ---------------------------------------------------------------------------

role_reasons contains msg if {
	not identity_trusted
	msg := sprintf("this node's policy does not trust identities from %v", [object.get(input, ["identity", "issuer"], "an unnamed issuer")])
}

role_reasons contains "none of the identity's entitlements, groups or affiliations gives a role at this node" if {
	identity_trusted
	role == ""
}

first_role(candidates) := [r | some r in role_precedence; candidates[r]][0]
