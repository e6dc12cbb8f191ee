package xborder.agreements

decision := {"allow": count(input.agreement.parties) >= 2, "reasons": [], "rules": [], "obligations": [], "max_validity_s": 0}
