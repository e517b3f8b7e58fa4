// XEP-0004 data forms the desk sends (pre-chat and rating), rendered as HTML fields with the
// same checks, and submitted back as <x type='submit'/>. Labels and values are text only.
import { xml } from "@xmpp/client";

const DATA = "jabber:x:data";
const MAX_FIELD = 200;
// The desk's own checks (plugins/support/prechat.py), so the customer hears of a mistake at once.
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const PHONE = /^\+?[0-9 ()./-]{5,32}$/;

export function readForm(x) {
  const fields = x.getChildren("field").map((f) => ({
    var: f.attrs.var || "",
    type: f.attrs.type || "text-single",
    label: f.attrs.label || f.attrs.var || "",
    required: !!f.getChild("required"),
    value: f.getChildText("value") || "",
    options: f.getChildren("option").map((o) => ({ label: o.attrs.label || o.getChildText("value"), value: o.getChildText("value") })),
  }));
  const formType = (fields.find((f) => f.var === "FORM_TYPE") || {}).value || "";
  return { title: x.getChildText("title") || "", instructions: x.getChildText("instructions") || "", fields, formType };
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Build the HTML form; `onSubmit(values)` gets {var: [values]} once the checks pass.
export function renderForm(form, kind, tr, onSubmit) {
  const box = el("form", "sb-form");
  box.dataset.form = kind;
  box.noValidate = true; // our own checks, with our own words
  if (form.title) box.append(el("div", "sb-form-title", form.title));
  if (form.instructions) box.append(el("div", "sb-form-help", form.instructions));
  const inputs = [];
  for (const f of form.fields) {
    if (f.type === "hidden" || f.type === "fixed") continue;
    const row = el("label", "sb-field");
    row.append(el("span", "", f.label + (f.required ? " *" : "")));
    let input;
    if (f.type === "list-single" && kind === "rating") {
      input = el("div", "sb-stars");
      input.setAttribute("role", "radiogroup");
      for (const o of [...f.options].sort((a, b) => Number(a.value) - Number(b.value))) {
        const b = el("button", "sb-star", o.value);
        b.type = "button";
        b.title = o.label;
        b.dataset.value = o.value;
        b.addEventListener("click", () => {
          input.dataset.value = o.value;
          for (const s of input.children) s.classList.toggle("sb-on", Number(s.dataset.value) <= Number(o.value));
        });
        input.append(b);
      }
    } else if (f.type === "list-single") {
      input = el("select");
      input.append(el("option", "", ""));
      for (const o of f.options) {
        const opt = el("option", "", o.label);
        opt.value = o.value;
        input.append(opt);
      }
    } else if (f.type === "text-multi") {
      input = el("textarea");
      input.maxLength = 1000;
      input.rows = 2;
    } else {
      input = el("input");
      input.type = f.var === "email" ? "email" : f.var === "phone" ? "tel" : "text";
      input.maxLength = MAX_FIELD;
      input.value = f.value;
    }
    input.name = f.var;
    row.append(input);
    box.append(row);
    inputs.push([f, input]);
  }
  const error = el("div", "sb-form-error");
  const submit = el("button", "sb-submit", kind === "rating" ? tr("rate") : tr("submit"));
  submit.type = "submit";
  box.append(error, submit);
  box.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const values = {};
    for (const [f, input] of inputs) {
      const raw = (input.dataset && input.dataset.value) || input.value || "";
      const v = f.type === "text-multi" ? raw.trim() : raw.split(/\s+/).filter(Boolean).join(" ");
      if (f.required && !v) {
        error.textContent = tr("required", { f: f.label });
        return;
      }
      if (v && ((f.var === "email" && !EMAIL.test(v)) || (f.var === "phone" && !PHONE.test(v)))) {
        error.textContent = tr("invalid", { f: f.label });
        return;
      }
      values[f.var] = v ? [v.slice(0, f.type === "text-multi" ? 1000 : MAX_FIELD)] : [];
    }
    error.textContent = "";
    for (const c of box.querySelectorAll("input,select,textarea,button")) c.disabled = true;
    onSubmit(values);
  });
  return box;
}

export function submission(formType, values) {
  const fields = [xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType))];
  for (const [name, vals] of Object.entries(values)) {
    fields.push(xml("field", { var: name }, ...vals.map((v) => xml("value", {}, v))));
  }
  return xml("x", { xmlns: DATA, type: "submit" }, ...fields);
}
