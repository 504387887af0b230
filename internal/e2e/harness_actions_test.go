package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// The helpers find elements by what a person sees: label texts, button and
// link texts, headings. They are the contract of docs/design.md; CSS classes are not.
// Each helper waits up to b.Timeout for its element, then fails the test with
// what it found instead.

// jsLib is the JavaScript that every script of the helpers starts with. A
// find function returns {el} or {why}, the reason it found nothing usable.
const jsLib = `
const q = JSON.stringify;
const norm = s => String(s == null ? "" : s).replace(/\s+/g, " ").trim();
const visible = el => !!el && el.isConnected && el.getClientRects().length > 0 &&
	el.checkVisibility({visibilityProperty: true});
const textOf = el => el instanceof HTMLInputElement ? norm(el.value) : norm(el.innerText);
const list = a => q(a.slice(0, 20));
const heading = () => {
	const h = document.querySelector("main h1") || document.querySelector("h1");
	return h && visible(h) ? norm(h.innerText) : null;
};
const pick = (all, want, what) => {
	const hits = all.filter(el => textOf(el) === want);
	const el = hits.find(el => visible(el) && !el.disabled);
	if (el) return {el};
	if (hits.some(visible)) return {why: what + " " + q(want) + " is disabled"};
	if (hits.length) return {why: what + " " + q(want) + " is not visible"};
	return {why: "no " + what + " with the text " + q(want) + "; visible: " + list(all.filter(visible).map(textOf))};
};
const findButton = want => pick(
	[...document.querySelectorAll("button, input[type=submit], input[type=button]")], want, "button");
const findLink = (want, scope) => {
	const root = scope ? document.querySelector(scope) : document;
	if (!root) return {why: "nothing matches " + scope};
	const r = pick([...root.querySelectorAll("a[href]")], want, "link");
	return scope && r.why ? {why: r.why + " (in " + scope + ")"} : r;
};
const findField = want => {
	const labels = [...document.querySelectorAll("label")];
	const hits = labels.filter(l => norm(l.innerText) === want);
	if (!hits.length) {
		return {why: "no <label> with the text " + q(want) + "; labels: " + list(labels.filter(visible).map(l => norm(l.innerText)))};
	}
	let why = "";
	for (const l of hits) {
		const id = l.getAttribute("for");
		const el = id && document.getElementById(id);
		if (!id) why = "the label " + q(want) + " has no for attribute";
		else if (!el) why = "the label " + q(want) + " is for #" + id + ", which does not exist";
		else if (!visible(el)) why = "the field #" + id + " labelled " + q(want) + " is not visible";
		else if (el.disabled || el.readOnly) why = "the field #" + id + " labelled " + q(want) + " is disabled or read-only";
		else return {el};
	}
	return {why};
};
const fieldKind = el => {
	if (el instanceof HTMLSelectElement) return "select";
	if (el instanceof HTMLTextAreaElement) return "type";
	if (!(el instanceof HTMLInputElement)) return "unsupported: a <" + el.tagName.toLowerCase() + ">";
	if (["text", "email", "password", "search", "tel", "url", "number"].includes(el.type)) return "type";
	if (["checkbox", "radio", "file", "submit", "button", "reset", "image", "hidden"].includes(el.type)) {
		return "unsupported: an input of type " + el.type;
	}
	return "set"; // date, time, color, range, …: typing into them depends on the locale
};
// htmx wires new content up when it settles, about 20 ms after the swap:
// an event fired at it before then goes unheard. Acting waits until no
// swap is in progress, as a person, slower than 20 ms, always does.
const htmxBusy = () => document.querySelector(".htmx-swapping, .htmx-settling, .htmx-added") ?
	"htmx is still swapping new content in" : "";
const changed = el => {
	el.dispatchEvent(new Event("input", {bubbles: true}));
	el.dispatchEvent(new Event("change", {bubbles: true}));
};
`

// script returns a JavaScript expression that runs body, a function body,
// with jsLib in scope and args bound to a0, a1, … as JSON values.
func script(body string, args ...any) string {
	var s strings.Builder
	s.WriteString("(() => {\n" + jsLib)
	for i, a := range args {
		j, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&s, "const a%d = %s;\n", i, j)
	}
	s.WriteString(body + "\n})()")
	return s.String()
}

// pollScript is script for poll: the body returns {ok, why, value}, and runs
// only once the document has been parsed.
func pollScript(body string, args ...any) string {
	return script(`if (document.readyState === "loading") return {ok: false, why: "the page is still loading"};
`+body, args...)
}

// pollResult is what a pollScript returns.
type pollResult[T any] struct {
	OK    bool   `json:"ok"`
	Why   string `json:"why"`
	Value T      `json:"value"`
}

// poll evaluates js until it returns ok, and returns its value. Errors of the
// evaluation, such as a context destroyed by a navigation, are retried. After
// b.Timeout it returns the last reason.
func poll[T any](b *Browser, js string) (T, error) {
	deadline := time.Now().Add(b.Timeout)
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		r, err := chromedp.Run(ctx, chromedp.Evaluate[pollResult[T]](js))
		cancel()
		if err == nil && r.OK {
			return r.Value, nil
		}
		why := r.Why
		if err != nil {
			why = err.Error()
		}
		if b.ctx.Err() != nil {
			return r.Value, fmt.Errorf("the browser is gone (%v): %s", context.Cause(b.ctx), why)
		}
		if !time.Now().Add(100 * time.Millisecond).Before(deadline) {
			return r.Value, fmt.Errorf("%s (waited %v)", why, b.Timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval evaluates js once, within b.Timeout.
func eval[T any](b *Browser, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js))
}

// Eval evaluates a JavaScript expression in the page and returns its value,
// decoded from JSON into T. It fails the test on an error.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := eval[T](b, expr)
	if err != nil {
		b.t.Fatalf("Eval(%q): %v", expr, err)
	}
	return v
}

// Await evaluates a JavaScript expression whose value is a promise, such
// as a fetch, and returns what it resolves to, decoded from JSON into T. It
// fails the test on an error or a rejection.
func Await[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("Await(%q): %v", expr, err)
	}
	return v
}

// Navigate opens path (relative to the server's URL, or an absolute URL) and
// waits for the load event.
func (b *Browser) Navigate(path string) {
	b.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		url = b.base + path
	}
	ctx, cancel := context.WithTimeout(b.ctx, navigateTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("Navigate(%q): %v", path, err)
	}
}

// FillByLabel puts value into the field whose <label> text is exactly label,
// found through the label's for attribute. It types into text-like inputs
// and textareas (after clearing them), picks the <option> whose text or value
// is value in a select, and sets the value of other inputs such as dates.
func (b *Browser) FillByLabel(label, value string) {
	b.t.Helper()
	if err := b.fillByLabel(label, value); err != nil {
		b.t.Fatalf("FillByLabel(%q): %v", label, err)
	}
}

func (b *Browser) fillByLabel(label, value string) error {
	kind, err := poll[string](b, pollScript(
		`const busy = htmxBusy(); if (busy) return {ok: false, why: busy};
		const r = findField(a0); return r.el ? {ok: true, value: fieldKind(r.el)} : {ok: false, why: r.why};`, label))
	if err != nil {
		return err
	}
	var problem string
	switch {
	case strings.HasPrefix(kind, "unsupported"):
		return fmt.Errorf("cannot fill the field: it is %s", strings.TrimPrefix(kind, "unsupported: "))
	case kind == "select":
		problem, err = eval[string](b, script(`const el = findField(a0).el;
			const o = [...el.options].find(o => norm(o.text) === a1 || o.value === a1);
			if (!o) return "no option " + q(a1) + "; options: " + list([...el.options].map(o => norm(o.text)));
			el.value = o.value; changed(el); return "";`, label, value))
	case kind == "set":
		problem, err = eval[string](b, script(`const el = findField(a0).el; el.value = a1; changed(el);
			return el.value === a1 ? "" : "set " + q(a1) + " but the field holds " + q(el.value);`, label, value))
	default:
		problem, err = b.typeInto(label, value)
	}
	if err != nil {
		return err
	}
	if problem != "" {
		return fmt.Errorf("%s", problem)
	}
	return nil
}

// typeInto clears the field labelled label and types value into it with key
// events, as a person would.
func (b *Browser) typeInto(label, value string) (string, error) {
	if _, err := eval[string](b, script(`const el = findField(a0).el;
		el.focus(); el.value = ""; changed(el); return "";`, label)); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	field := chromedp.JSPath(script(`return findField(a0).el || null;`, label))
	if err := chromedp.Do(ctx, chromedp.SendKeys(field, value)); err != nil {
		return "", err
	}
	return eval[string](b, script(`const el = findField(a0).el;
		return el.value === a1 ? "" : "typed " + q(a1) + " but the field holds " + q(el.value);`, label, value))
}

// ClickButton clicks the visible, enabled <button> or input[type=submit|button]
// whose text is exactly text. When the click submits a form (or otherwise
// navigates), it waits until the next page has loaded; it does not wait for
// what htmx does: follow it with WaitText, WaitFlash, WaitPath or WaitHeading.
func (b *Browser) ClickButton(text string) {
	b.t.Helper()
	if err := b.clickButton(text); err != nil {
		b.t.Fatalf("ClickButton(%q): %v", text, err)
	}
}

func (b *Browser) clickButton(text string) error {
	return b.clickFound(`findButton(a0)`, text)
}

// ClickLink clicks the visible link (<a href>) whose text is exactly text;
// within, if given, is a CSS selector of the element to look in, such as
// `nav[aria-label="Main"]`. Like ClickButton, it waits for the page that the
// link opens to load, unless htmx handles the click.
func (b *Browser) ClickLink(text string, within ...string) {
	b.t.Helper()
	scope := strings.Join(within, " ")
	if err := b.clickFound(`findLink(a0, a1)`, text, scope); err != nil {
		b.t.Fatalf("ClickLink(%q, %q): %v", text, scope, err)
	}
}

// clickFound waits until find (a JavaScript call of a find function of jsLib)
// finds an element, then clicks its centre with the mouse.
func (b *Browser) clickFound(find string, args ...any) error {
	if _, err := poll[struct{}](b, pollScript(
		`const busy = htmxBusy(); if (busy) return {ok: false, why: busy};
		const r = `+find+`; return r.el ? {ok: true} : {ok: false, why: r.why};`, args...)); err != nil {
		return err
	}
	// Record the click and the submit events, to learn whether the click
	// navigates: the page is replaced later, after the click has returned.
	token := fmt.Sprint(time.Now().UnixNano())
	if _, err := eval[string](b, script(`window.__e2eToken = a0;
		window.__e2eClick = window.__e2eSubmit = null;
		addEventListener("click", e => { window.__e2eClick = e; }, {capture: true, once: true});
		addEventListener("submit", e => { window.__e2eSubmit = e; }, {capture: true, once: true});
		return "";`, token)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.JSPath(script(`return `+find+`.el || null;`, args...)))); err != nil {
		return err
	}
	// A link or a form submission that no handler (htmx) prevented loads a
	// new page: wait until it has replaced this one and finished loading.
	_, err := poll[struct{}](b, script(`if (window.__e2eToken !== a0) {
			return document.readyState === "complete" ? {ok: true} : {ok: false, why: "the next page is still loading"};
		}
		const c = window.__e2eClick, s = window.__e2eSubmit;
		const a = c && !c.defaultPrevented && c.target instanceof Element && c.target.closest("a[href]");
		const link = a && (!a.target || a.target === "_self") && !a.hasAttribute("download") &&
			!(a.hash && a.origin + a.pathname + a.search === location.origin + location.pathname + location.search);
		const form = s && !s.defaultPrevented && (!s.target.target || s.target.target === "_self");
		if (!link && !form) return {ok: true};
		return {ok: false, why: "the click " + (link ? "followed a link" : "submitted a form") + ", and no new page has arrived"};`, token))
	return err
}

// WaitText waits until text (whitespace-normalised) is visible on the page.
func (b *Browser) WaitText(text string) {
	b.t.Helper()
	if err := b.waitText(text); err != nil {
		b.t.Fatalf("WaitText(%q): %v", text, err)
	}
}

func (b *Browser) waitText(text string) error {
	_, err := poll[struct{}](b, pollScript(`const t = norm(document.body && document.body.innerText);
		if (t.includes(norm(a0))) return {ok: true};
		return {ok: false, why: "not on the page " + location.pathname + "; h1: " + q(heading()) + "; text: " + q(t.slice(0, 400))};`, text))
	return err
}

// WaitFlash waits until a visible flash message (role="status" or
// role="alert") contains text, ignoring case.
func (b *Browser) WaitFlash(text string) {
	b.t.Helper()
	_, err := poll[struct{}](b, pollScript(`const want = norm(a0).toLowerCase();
		const flashes = [...document.querySelectorAll("[role=status], [role=alert]")].filter(visible).map(el => norm(el.innerText));
		if (flashes.some(f => f.toLowerCase().includes(want))) return {ok: true};
		return {ok: false, why: "no visible flash on " + location.pathname + " contains it; flashes: " + list(flashes)};`, text))
	if err != nil {
		b.t.Fatalf("WaitFlash(%q): %v", text, err)
	}
}

// WaitDialogClosed waits until no dialog is open: the answer to what the
// dialog submitted has arrived and been swapped in. Waiting for a flash is
// not enough when the same flash is still showing from an earlier action.
func (b *Browser) WaitDialogClosed() {
	b.t.Helper()
	_, err := poll[struct{}](b, pollScript(`const d = document.querySelector("dialog[open]");
		if (!d) return {ok: true};
		return {ok: false, why: "a dialog is still open: " + q(norm(d.innerText).slice(0, 200))};`))
	if err != nil {
		b.t.Fatalf("WaitDialogClosed: %v", err)
	}
}

// WaitRow waits until a visible table row (<tr> or role="row") contains text.
func (b *Browser) WaitRow(text string) {
	b.t.Helper()
	_, err := poll[struct{}](b, pollScript(`const rows = [...document.querySelectorAll("tr, [role=row]")].filter(visible).map(el => norm(el.innerText));
		if (rows.some(r => r.includes(a0))) return {ok: true};
		return {ok: false, why: rows.length + " visible rows on " + location.pathname + ", none contains it; first rows: " + q(rows.slice(0, 5))};`, text))
	if err != nil {
		b.t.Fatalf("WaitRow(%q): %v", text, err)
	}
}

// WaitPath waits until the location's path is path.
func (b *Browser) WaitPath(path string) {
	b.t.Helper()
	_, err := poll[struct{}](b, pollScript(`if (location.pathname === a0) return {ok: true};
		return {ok: false, why: "the path is " + q(location.pathname) + "; h1: " + q(heading())};`, path))
	if err != nil {
		b.t.Fatalf("WaitPath(%q): %v", path, err)
	}
}

// WaitHeading waits until the page's h1 (in main, else the first) is text.
func (b *Browser) WaitHeading(text string) {
	b.t.Helper()
	_, err := poll[struct{}](b, pollScript(`const h = heading(); if (h === a0) return {ok: true};
		return {ok: false, why: (h === null ? "no visible h1" : "the h1 is " + q(h)) + " on " + location.pathname};`, text))
	if err != nil {
		b.t.Fatalf("WaitHeading(%q): %v", text, err)
	}
}

// Heading returns the text of the page's h1 (in main, else the first),
// waiting for one to be visible.
func (b *Browser) Heading() string {
	b.t.Helper()
	h, err := poll[string](b, pollScript(`const h = heading();
		return h === null ? {ok: false, why: "no visible h1 on " + location.pathname} : {ok: true, value: h};`))
	if err != nil {
		b.t.Fatalf("Heading(): %v", err)
	}
	return h
}

// Path returns the path of the current location, once the page is parsed.
func (b *Browser) Path() string {
	b.t.Helper()
	p, err := poll[string](b, pollScript(`return {ok: true, value: location.pathname};`))
	if err != nil {
		b.t.Fatalf("Path(): %v", err)
	}
	return p
}

// AriaCurrent returns the texts of the elements with aria-current="page"
// inside the element that the CSS selector within matches (the whole
// document when within is empty), waiting for that element to exist.
func (b *Browser) AriaCurrent(within string) []string {
	b.t.Helper()
	texts, err := poll[[]string](b, pollScript(`const root = a0 ? document.querySelector(a0) : document;
		if (!root) return {ok: false, why: "nothing matches " + a0 + " on " + location.pathname};
		return {ok: true, value: [...root.querySelectorAll("[aria-current=page]")].map(el => norm(el.innerText))};`, within))
	if err != nil {
		b.t.Fatalf("AriaCurrent(%q): %v", within, err)
	}
	return texts
}

// OpenMenu opens the ⚙️ menu (a <details data-menu>) whose summary has the
// accessible name label, as a click on it does, and waits until it is open.
func (b *Browser) OpenMenu(label string) {
	b.t.Helper()
	if _, err := poll[struct{}](b, pollScript(`const s = [...document.querySelectorAll("details[data-menu] > summary")]
			.find(s => s.getAttribute("aria-label") === a0);
		if (!s) return {ok: false, why: "no menu labelled " + q(a0)};
		if (!s.parentElement.open) s.click();
		return s.parentElement.open ? {ok: true} : {ok: false, why: "the menu did not open"};`, label)); err != nil {
		b.t.Fatalf("OpenMenu(%q): %v", label, err)
	}
}
