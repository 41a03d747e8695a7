/**
 * OpenGraph metadata from an HTML page, as Synapse's URL previewer extracts it: `og:*` meta tags, Twitter
 * card tags where OpenGraph says nothing, and fallbacks for the title (`<title>`, first `<h1>`), the image
 * (`itemprop=image`, a sizeable `<img>`, the favicon) and the description (`<meta name=description>`).
 * A small tokenizer, not a DOM: it reads start tags, their attributes and the text of a few elements.
 */

export type OpenGraph = Record<string, string>;

/** Synapse's limits on what a preview may carry. */
const MAX_TAG_NAME_LENGTH = 50;
const MAX_TAG_VALUE_LENGTH = 1000;
/** Pages with more tags of one prefix than this are ignored for that prefix (Synapse does the same). */
const MAX_TAGS_PER_PREFIX = 50;

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  ndash: "\u2013",
  mdash: "\u2014",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
  hellip: "\u2026",
  copy: "\u00a9",
  reg: "\u00ae",
  trade: "\u2122",
  middot: "\u00b7",
  bull: "\u2022",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z][a-z0-9]{1,31});?/gi, (whole, entity: string) => {
    if (entity.startsWith("#")) {
      const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : "\ufffd";
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

interface StartTag {
  name: string;
  attributes: Map<string, string>;
}

/** Elements whose content is text up to their end tag, not markup. */
const RAW_TEXT_ELEMENTS = new Set(["script", "style", "textarea", "title", "xmp", "noscript", "template"]);

const collapseWhitespace = (text: string) => text.replace(/\s+/g, " ").trim();

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const pattern = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const match of source.matchAll(pattern)) {
    const name = (match[1] ?? "").toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(match[2] ?? match[3] ?? match[4] ?? ""));
  }
  return attributes;
}

interface Document {
  tags: StartTag[];
  title: string | undefined;
  firstH1: string | undefined;
}

/** One pass over the markup: every start tag, the first <title>'s text and the first <h1>'s text. */
function tokenize(html: string): Document {
  const tags: StartTag[] = [];
  let title: string | undefined;
  let firstH1: string | undefined;
  let h1Text: string[] | undefined;
  let at = 0;
  while (at < html.length) {
    const open = html.indexOf("<", at);
    if (open === -1) break;
    if (h1Text) h1Text.push(html.slice(at, open));
    if (html.startsWith("<!--", open)) {
      const close = html.indexOf("-->", open + 4);
      at = close === -1 ? html.length : close + 3;
      continue;
    }
    const tagMatch = /^<(\/?)([a-zA-Z][^\s/>]*)([^>]*)>/.exec(html.slice(open, open + 4096));
    if (!tagMatch) {
      // A doctype, processing instruction or stray '<'.
      const close = html.indexOf(">", open + 1);
      at = html[open + 1] === "!" || html[open + 1] === "?" ? (close === -1 ? html.length : close + 1) : open + 1;
      continue;
    }
    at = open + tagMatch[0].length;
    const name = (tagMatch[2] ?? "").toLowerCase();
    if (tagMatch[1] === "/") {
      if (name === "h1" && h1Text) {
        firstH1 = collapseWhitespace(decodeEntities(h1Text.join("")));
        h1Text = undefined;
      }
      continue;
    }
    tags.push({ name, attributes: parseAttributes(tagMatch[3] ?? "") });
    if (name === "h1" && firstH1 === undefined && !h1Text) h1Text = [];
    if (RAW_TEXT_ELEMENTS.has(name)) {
      const endTag = new RegExp(`</${name}`, "gi");
      endTag.lastIndex = at;
      const end = endTag.exec(html)?.index ?? -1;
      const content = html.slice(at, end === -1 ? html.length : end);
      if (name === "title" && title === undefined) title = collapseWhitespace(decodeEntities(content));
      at = end === -1 ? html.length : end;
    }
  }
  return { tags, title, firstH1 };
}

function metaTags(tags: StartTag[], attribute: "property" | "name", prefix: string): Map<string, string> {
  const found = new Map<string, string>();
  let count = 0;
  for (const tag of tags) {
    if (tag.name !== "meta") continue;
    const key = tag.attributes.get(attribute);
    const content = tag.attributes.get("content");
    if (!key?.startsWith(`${prefix}:`) || content === undefined) continue;
    count += 1;
    if (count > MAX_TAGS_PER_PREFIX) return new Map();
    if (!found.has(key)) found.set(key, content);
  }
  return found;
}

/** Twitter card tags that say the same as an OpenGraph tag. */
function twitterToOpenGraph(key: string): string | undefined {
  const name = key.slice("twitter:".length);
  if (name === "image:src") return "og:image";
  if (["title", "description", "image", "image:alt", "url"].includes(name)) return `og:${name}`;
  return undefined;
}

function absoluteUrl(value: string, base: string): string | undefined {
  try {
    const url = new URL(value.trim(), base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** The OpenGraph properties of an HTML page fetched from `pageUrl`; `og:image` is made absolute. */
export function parseOpenGraph(html: string, pageUrl: string): OpenGraph {
  const document = tokenize(html);
  const og = new Map<string, string>();
  for (const attribute of ["property", "name"] as const) {
    for (const [key, value] of metaTags(document.tags, attribute, "og")) if (!og.has(key)) og.set(key, value);
  }
  for (const [key, value] of metaTags(document.tags, "name", "twitter")) {
    const mapped = twitterToOpenGraph(key);
    if (mapped && !og.has(mapped)) og.set(mapped, value);
  }

  if (!og.has("og:title")) {
    const title = document.title || document.firstH1;
    if (title) og.set("og:title", title);
  }
  if (!og.has("og:image")) {
    const itemprop = document.tags.find(
      (tag) => tag.name === "meta" && tag.attributes.get("itemprop")?.toLowerCase() === "image" && tag.attributes.get("content"),
    );
    const sizeable = document.tags.find(
      (tag) =>
        tag.name === "img" &&
        tag.attributes.get("src") &&
        Number(tag.attributes.get("width")) > 10 &&
        Number(tag.attributes.get("height")) > 10,
    );
    const favicon = document.tags.find(
      (tag) => tag.name === "link" && tag.attributes.get("href") && /\bicon\b/i.test(tag.attributes.get("rel") ?? ""),
    );
    const image = itemprop?.attributes.get("content") ?? sizeable?.attributes.get("src") ?? favicon?.attributes.get("href");
    if (image) og.set("og:image", image);
  }
  if (!og.has("og:description")) {
    const description = document.tags.find(
      (tag) => tag.name === "meta" && tag.attributes.get("name")?.toLowerCase() === "description" && tag.attributes.get("content"),
    );
    const content = description?.attributes.get("content");
    if (content) og.set("og:description", content);
  }

  const image = og.get("og:image");
  if (image !== undefined) {
    const resolved = absoluteUrl(image, pageUrl);
    if (resolved) og.set("og:image", resolved);
    else og.delete("og:image");
  }

  const result: OpenGraph = {};
  for (const [key, value] of og) {
    const trimmed = value.trim();
    if (key.length <= MAX_TAG_NAME_LENGTH && trimmed.length <= MAX_TAG_VALUE_LENGTH && trimmed !== "") result[key] = trimmed;
  }
  return result;
}

/** The character set a page declares in `<meta charset>` or `<meta http-equiv=Content-Type>`, if any. */
export function declaredCharset(html: string): string | undefined {
  for (const tag of tokenize(html.slice(0, 4096)).tags) {
    if (tag.name !== "meta") continue;
    const charset = tag.attributes.get("charset") ?? /charset=([^\s;]+)/i.exec(tag.attributes.get("content") ?? "")?.[1];
    if (charset) return charset.trim().toLowerCase();
  }
  return undefined;
}
