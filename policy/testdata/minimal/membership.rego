package xborder.membership

decision := {"allow": input.candidate.country in {"FR", "DE"}, "reasons": [], "rules": [], "obligations": [], "max_validity_s": 0}
