// What the targeting builder can offer: every condition attribute the server accepts, with its
// operators and the shape of its value, in one place. It mirrors the server's registry
// (targeting/attributes.py, targeting/visit_attributes.py, targeting/url_match.py): an operator
// missing here is one the server refuses, so the builder never offers it.
//
//   kind             attribute           operators                              value
//   segment          klaviyo_segment     equals not_equals                      a segment id (picker)
//   url              url, landing_url    equals contains starts_with matches    a path or whole URL
//   text             utm_source ...      equals not_equals contains exists      text (none for exists)
//   query_param      query_param:NAME    equals not_equals contains exists      text (none for exists)
//   traffic_source   traffic_source      equals not_equals                      one of GA4's channels
//   device           device              equals not_equals                      mobile tablet desktop
//   visitor          visitor             equals                                 new returning
//   country          country             equals not_equals                      ISO 3166-1 alpha-2
//   cookie           cookie:NAME         equals exists                          text (none for exists)
import { COUNTRIES } from "./countries.js";

export const SEGMENT = "klaviyo_segment";

const TEXT_OPERATORS = [["equals", "equals"], ["not_equals", "does not equal"], ["contains", "contains"], ["exists", "is present"]];
const IS_OPERATORS = [["equals", "is"], ["not_equals", "is not"]];
const URL_HELP = "A path such as /collections/sale compares with the page's path; a whole URL (https://…) with the whole address. Matches: a pattern with * (any characters), or re: and an RE2 regular expression.";

export const TRAFFIC_SOURCES = [
  ["direct", "Direct"],
  ["email", "Email"],
  ["sms", "SMS"],
  ["organic_search", "Organic Search"],
  ["paid_search", "Paid Search"],
  ["organic_social", "Organic Social"],
  ["paid_social", "Paid Social"],
  ["referral", "Referral"],
];
export const DEVICES = [["mobile", "mobile"], ["tablet", "tablet"], ["desktop", "desktop"]];
export const VISITORS = [["new", "new"], ["returning", "returning"]];

const choice = (label, options, placeholder, missing) => ({ value: "choice", options, placeholder, label, missing });

/**
 * Each kind: `label` (the type picker), `words` (the summary line's subject), `operators`
 * [[operator, words]], `valueless` (operators that take no value), `value`: how the value is
 * entered ("segment", "text" or a choice with its options; `max` characters, 256 by default;
 * `missing` the message when it is left empty), and for `prefix` kinds the name the attribute
 * carries (`cookie:NAME`) with `nameLabel`.
 */
export const KINDS = {
  segment: { attribute: SEGMENT, label: "Klaviyo segment", words: "Klaviyo segment", operators: [["equals", "equals"], ["not_equals", "does not equal"]], value: { value: "segment", label: "Segment", missing: "choose a segment" } },
  url: { attribute: "url", label: "Page URL", words: "page URL", operators: [["equals", "equals"], ["contains", "contains"], ["starts_with", "starts with"], ["matches", "matches"]], value: { value: "text", label: "Path or URL", placeholder: "/collections/sale", help: URL_HELP, max: 1024, missing: "enter a path or URL" } },
  landing_url: { attribute: "landing_url", label: "Landing page URL", words: "landing page URL", operators: [["equals", "equals"], ["contains", "contains"], ["starts_with", "starts with"], ["matches", "matches"]], value: { value: "text", label: "Path or URL", placeholder: "/collections/sale", help: URL_HELP, max: 1024, missing: "enter a path or URL" } },
  utm_source: { attribute: "utm_source", label: "UTM source", words: "UTM source", operators: TEXT_OPERATORS, value: { value: "text", label: "Value", placeholder: "klaviyo" } },
  utm_medium: { attribute: "utm_medium", label: "UTM medium", words: "UTM medium", operators: TEXT_OPERATORS, value: { value: "text", label: "Value", placeholder: "email" } },
  utm_campaign: { attribute: "utm_campaign", label: "UTM campaign", words: "UTM campaign", operators: TEXT_OPERATORS, value: { value: "text", label: "Value", placeholder: "summer" } },
  utm_content: { attribute: "utm_content", label: "UTM content", words: "UTM content", operators: TEXT_OPERATORS, value: { value: "text", label: "Value" } },
  utm_term: { attribute: "utm_term", label: "UTM term", words: "UTM term", operators: TEXT_OPERATORS, value: { value: "text", label: "Value" } },
  query_param: { prefix: "query_param", label: "URL parameter", words: "URL parameter", nameLabel: "Parameter name", namePlaceholder: "ref", operators: TEXT_OPERATORS, value: { value: "text", label: "Value" } },
  traffic_source: { attribute: "traffic_source", label: "Traffic source", words: "traffic source", operators: IS_OPERATORS, value: choice("Source", TRAFFIC_SOURCES, "Choose a source…", "choose a traffic source") },
  device: { attribute: "device", label: "Device", words: "device", operators: IS_OPERATORS, value: choice("Device type", DEVICES, "Choose a device…", "choose a device") },
  visitor: { attribute: "visitor", label: "New or returning visitor", words: "visitor", operators: [["equals", "is"]], value: choice("Visitor", VISITORS, "Choose new or returning…", "choose new or returning") },
  country: { attribute: "country", label: "Country", words: "country", operators: IS_OPERATORS, value: choice("Which country", COUNTRIES.map(([code, name]) => [code, `${name} (${code})`]), "Choose a country…", "choose a country") },
  cookie: { prefix: "cookie", label: "Cookie", words: "cookie", nameLabel: "Cookie name", namePlaceholder: "consent", operators: [["equals", "equals"], ["exists", "is present"]], value: { value: "text", label: "Value", max: 1024 } },
};
for (const kind of Object.values(KINDS)) kind.valueless = new Set(kind.operators.some(([op]) => op === "exists") ? ["exists"] : []);

const BY_ATTRIBUTE = new Map(Object.entries(KINDS).filter(([, k]) => k.attribute).map(([key, k]) => [k.attribute, key]));

/** {kind, name} for an attribute name ("cookie:consent" -> {kind: "cookie", name: "consent"}), or null. */
export function parseAttribute(attribute) {
  if (typeof attribute !== "string") return null;
  if (BY_ATTRIBUTE.has(attribute)) return { kind: BY_ATTRIBUTE.get(attribute), name: "" };
  const colon = attribute.indexOf(":");
  if (colon < 0) return null;
  const prefix = attribute.slice(0, colon);
  const kind = Object.keys(KINDS).find((key) => KINDS[key].prefix === prefix);
  return kind ? { kind, name: attribute.slice(colon + 1) } : null;
}

/** The attribute name of a kind and its parameter name. */
export const attributeOf = (kind, name) => (KINDS[kind].prefix ? `${KINDS[kind].prefix}:${name}` : KINDS[kind].attribute);

/** Whether the builder shows this condition faithfully (known attribute, operator, value shape). */
export function isSupported(condition) {
  const parsed = parseAttribute(condition.attribute);
  if (!parsed) return false;
  const kind = KINDS[parsed.kind];
  if (!kind.operators.some(([op]) => op === condition.operator)) return false;
  const keys = Object.keys(condition).filter((k) => k !== "attribute" && k !== "operator");
  if (kind.valueless.has(condition.operator)) return keys.length === 0;
  return keys.length === 1 && keys[0] === "value" && typeof condition.value === "string";
}

const optionWords = (options, value) => {
  const found = options.find(([v]) => v === value);
  return found ? found[1] : value;
};

/** One condition in words: "device is mobile", "UTM campaign equals summer", "cookie consent is present". */
export function conditionWords(condition, segmentName = (id) => id) {
  const parsed = parseAttribute(condition.attribute);
  if (!parsed) return `${condition.attribute} ${condition.operator} ${condition.value ?? ""}`.trim();
  const kind = KINDS[parsed.kind];
  const subject = kind.prefix ? `${kind.words} ${parsed.name || "…"}` : kind.words;
  const operator = optionWords(kind.operators, condition.operator);
  if (kind.valueless.has(condition.operator)) return `${subject} ${operator}`;
  const value = condition.value;
  let shown;
  if (!value) shown = "…";
  else if (kind.value.value === "segment") shown = segmentName(value);
  else if (kind.value.value === "choice") shown = optionWords(kind.value.options, value);
  else shown = value;
  return `${subject} ${operator} ${shown}`;
}
