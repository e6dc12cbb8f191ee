package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/xborder/xborder/dsp"
)

// The consumer's callback endpoints (DSP 2025-1, HTTPS binding): what the
// provider posts to the callbackAddress, by process area and last path
// segment, and the message type each carries.
var callbackTypes = map[string]map[string]func() (string, any){
	"negotiations": {
		"offers":    func() (string, any) { return dsp.TypeContractOffer, &dsp.ContractOfferMessage{} },
		"agreement": func() (string, any) { return dsp.TypeContractAgreement, &dsp.ContractAgreementMessage{} },
		"events":    func() (string, any) { return dsp.TypeNegotiationEvent, &dsp.ContractNegotiationEventMessage{} },
		"termination": func() (string, any) {
			return dsp.TypeNegotiationTermination, &dsp.ContractNegotiationTerminationMessage{}
		},
	},
	"transfers": {
		"start":       func() (string, any) { return dsp.TypeTransferStart, &dsp.TransferStartMessage{} },
		"completion":  func() (string, any) { return dsp.TypeTransferCompletion, &dsp.TransferCodeMessage{} },
		"suspension":  func() (string, any) { return dsp.TypeTransferSuspension, &dsp.TransferCodeMessage{} },
		"termination": func() (string, any) { return dsp.TypeTransferTermination, &dsp.TransferCodeMessage{} },
	},
}

// callbacks receives the provider's messages and hands each to the step
// waiting for its process. A message for no process this consumer leads
// is answered 404, one it cannot read 400, one without a valid token of
// the provider 401 (when the provider's key is known).
type callbacks struct {
	verifier dsp.Verifier // nil: not authenticated

	mu    sync.Mutex
	inbox map[string]chan any // "area/consumerPid" → messages received
}

// open starts receiving for a process; the step reads its messages from
// the channel.
func (c *callbacks) open(area, pid string) <-chan any {
	ch := make(chan any, 8)
	c.mu.Lock()
	c.inbox[area+"/"+pid] = ch
	c.mu.Unlock()
	return ch
}

func (c *callbacks) close(area, pid string) {
	c.mu.Lock()
	delete(c.inbox, area+"/"+pid)
	c.mu.Unlock()
}

// next waits for the process's next message.
func next(ctx context.Context, inbox <-chan any, wait time.Duration) (any, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m := <-inbox:
		return m, nil
	case <-t.C:
		return nil, fmt.Errorf("no message from the provider within %v", wait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// handler routes the callback paths: {callbackAddress}/negotiations/{pid}/...
// and {callbackAddress}/transfers/{pid}/....
func (c *callbacks) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{area}/{pid}/{kind}", c.receive)
	return mux
}

func (c *callbacks) receive(w http.ResponseWriter, r *http.Request) {
	area, pid, kind := r.PathValue("area"), r.PathValue("pid"), r.PathValue("kind")
	errType := dsp.TypeNegotiationError
	if area == "transfers" {
		errType = dsp.TypeTransferError
	}
	refuse := func(status int, code, reason string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(dsp.NewError(errType, "", pid, code, reason))
	}
	newMsg, ok := callbackTypes[area][kind]
	c.mu.Lock()
	inbox := c.inbox[area+"/"+pid]
	c.mu.Unlock()
	if !ok || inbox == nil {
		refuse(http.StatusNotFound, "not_found", "No process "+pid+" of this consumer takes "+r.URL.Path+".")
		return
	}
	if c.verifier != nil {
		if _, err := c.verifier.Verify(r.Context(), r.Header.Get("Authorization")); err != nil {
			refuse(http.StatusUnauthorized, "unauthorized", err.Error())
			return
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, dsp.MaxMessageBytes+1))
	if err != nil {
		refuse(http.StatusBadRequest, "bad_message", err.Error())
		return
	}
	typ, msg := newMsg()
	if err := dsp.DecodeBytes(raw, typ, msg); err != nil {
		refuse(http.StatusBadRequest, "bad_message", err.Error())
		return
	}
	var pids struct {
		ConsumerPID string `json:"consumerPid"`
	}
	if json.Unmarshal(raw, &pids) != nil || pids.ConsumerPID != pid {
		refuse(http.StatusBadRequest, "bad_message", "consumerPid "+pids.ConsumerPID+" is not the path's "+pid+".")
		return
	}
	select {
	case inbox <- msg:
		w.WriteHeader(http.StatusOK)
	default:
		refuse(http.StatusTooManyRequests, "busy", "Too many messages for "+pid+" not yet read.")
	}
}

// serve serves the callback endpoints on ln; the returned function
// stops them.
func (c *consumer) serve(ln net.Listener) func() {
	srv := &http.Server{Handler: c.cb.handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "dataspace: callback endpoints:", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}
