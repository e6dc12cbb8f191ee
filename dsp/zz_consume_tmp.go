package dsp

import (
	"context"
	"net/http"
)

// decideConsume: temporary until the consumer policy lands.
func (s *Service) decideConsume(context.Context, Participant, Dataset, Offer, NegotiateRequest) error {
	return consumerRefusal(http.StatusForbidden, CodeDenied, "no consumer policy")
}
