package oidctest

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// The pages a person (or a chromedp test) fills in. Element ids are part
// of the API: username, password, submit (and user_code, deny on the
// device page).
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head><body>{{end}}
{{define "login"}}{{template "head" .}}
<h1>Sign in</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username" value="{{.Username}}" autofocus>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button id="submit" type="submit">Sign in</button>
</form></body></html>{{end}}
{{define "device"}}{{template "head" .}}
<h1>Connect a device</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<label for="user_code">Code shown on the device</label> <input id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username" value="{{.Username}}">
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button id="submit" type="submit" name="action" value="approve">Approve</button>
<button id="deny" type="submit" name="action" value="deny">Deny</button>
</form></body></html>{{end}}
{{define "done"}}{{template "head" .}}<h1 id="result">{{.Message}}</h1></body></html>{{end}}
`))

type pageData struct {
	Title, Error, Action, AuthRequestID, Username, UserCode, Message string
}

const pageLoggedOut = "logged-out"

func render(w http.ResponseWriter, status int, page string, d *pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if page == pageLoggedOut {
		_ = pages.ExecuteTemplate(w, "done", &pageData{Title: "Signed out", Message: "You are signed out."})
		return
	}
	_ = pages.ExecuteTemplate(w, page, d)
}

// login is the authorisation code flow's login page: GET shows the form,
// POST checks the password and sends the browser back to the op, which
// redirects to the client with the code. A wrong password shows the form
// again with an error.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	d := &pageData{Title: "Sign in", Action: p.issuer + LoginPath, AuthRequestID: id}
	if id == "" || len(id) > 512 {
		d.Error = "This sign-in has no request: start again from the application."
		render(w, http.StatusBadRequest, "login", d)
		return
	}
	if _, err := p.store.AuthRequestByID(r.Context(), id); err != nil {
		d.Error = "This sign-in is unknown or has expired: start again from the application."
		render(w, http.StatusBadRequest, "login", d)
		return
	}
	switch r.Method {
	case http.MethodGet:
		render(w, http.StatusOK, "login", d)
	case http.MethodPost:
		d.Username = r.PostForm.Get("username")
		if err := p.store.CheckUsernamePassword(d.Username, r.PostForm.Get("password"), id); err != nil {
			d.Error = "Wrong username or password."
			render(w, http.StatusUnauthorized, "login", d)
			return
		}
		p.log.Info("oidctest: sign-in", "user", d.Username)
		http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// device is the device authorization grant's page: the person enters the
// code the device shows (prefilled from verification_uri_complete), signs
// in and approves or denies.
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	d := &pageData{Title: "Connect a device", Action: p.issuer + DevicePath,
		UserCode: strings.ToUpper(strings.TrimSpace(r.Form.Get("user_code")))}
	switch r.Method {
	case http.MethodGet:
		render(w, http.StatusOK, "device", d)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	d.Username = r.PostForm.Get("username")
	usr, ok := p.store.users.check(d.Username, r.PostForm.Get("password"))
	if !ok {
		d.Error = "Wrong username or password."
		render(w, http.StatusUnauthorized, "device", d)
		return
	}
	state, err := p.store.GetDeviceAuthorizationByUserCode(r.Context(), d.UserCode)
	if err != nil || state.Done || state.Denied {
		d.Error = "This code is unknown or was already used."
		render(w, http.StatusBadRequest, "device", d)
		return
	}
	if time.Now().After(state.Expires) {
		d.Error = "This code has expired: start again on the device."
		render(w, http.StatusBadRequest, "device", d)
		return
	}
	switch r.PostForm.Get("action") {
	case "approve", "":
		err = p.store.CompleteDeviceAuthorization(r.Context(), d.UserCode, usr.ID)
		d.Message = "The device is connected. You may close this page."
	case "deny":
		err = p.store.DenyDeviceAuthorization(r.Context(), d.UserCode)
		d.Message = "The device was denied access."
	default:
		d.Error = "Approve or deny."
		render(w, http.StatusBadRequest, "device", d)
		return
	}
	if err != nil {
		d.Error = "This code is unknown or was already used."
		render(w, http.StatusBadRequest, "device", d)
		return
	}
	p.log.Info("oidctest: device authorization", "user", usr.ID, "client", state.ClientID, "action", r.PostForm.Get("action"))
	render(w, http.StatusOK, "done", d)
}
