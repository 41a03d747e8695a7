import assert from "node:assert/strict";
import { test } from "node:test";
import { declaredCharset, decodeEntities, parseOpenGraph } from "../../src/media/open-graph";
import { fileNameFromDisposition } from "../../src/media/url-fetcher";

test("OpenGraph meta tags are read, with relative og:image made absolute", () => {
  const html = `<!doctype html><html><head>
    <meta property="og:title" content="Matrix &amp; friends">
    <meta property='og:description' content='An open network'>
    <META PROPERTY=og:type CONTENT=website>
    <meta property="og:image" content="/img/logo.png">
    <title>Ignored when og:title exists</title></head><body></body></html>`;
  assert.deepEqual(parseOpenGraph(html, "https://example.org/blog/post"), {
    "og:title": "Matrix & friends",
    "og:description": "An open network",
    "og:type": "website",
    "og:image": "https://example.org/img/logo.png",
  });
});

test("fallbacks: Twitter cards, <title>, meta description, itemprop image, favicon", () => {
  const twitter = parseOpenGraph(
    `<head><meta name="twitter:title" content="Tweet title"><meta name="twitter:image:src" content="https://cdn.example/x.jpg">
     <meta name="description" content="Plain description"></head>`,
    "https://example.org/",
  );
  assert.deepEqual(twitter, {
    "og:title": "Tweet title",
    "og:image": "https://cdn.example/x.jpg",
    "og:description": "Plain description",
  });
  const plain = parseOpenGraph(
    `<html><head><title>
      Just a   title
    </title><link rel="shortcut icon" href="favicon.ico"></head><body><h1>Heading</h1></body></html>`,
    "http://example.org/dir/",
  );
  assert.deepEqual(plain, { "og:title": "Just a title", "og:image": "http://example.org/dir/favicon.ico" });
  const heading = parseOpenGraph(`<body><h1>The <em>real</em> &quot;title&quot;</h1><img src="a.png" width="5" height="5"><img src="b.png" width="300" height="200"></body>`, "https://e.org/");
  assert.deepEqual(heading, { "og:title": 'The real "title"', "og:image": "https://e.org/b.png" });
});

test("markup inside comments and scripts is not mistaken for tags", () => {
  const html = `<head>
    <!-- <meta property="og:title" content="commented out"> -->
    <script>document.write('<meta property="og:title" content="scripted">')</script>
    <meta property="og:title" content="real"></head>`;
  assert.deepEqual(parseOpenGraph(html, "https://e.org/"), { "og:title": "real" });
});

test("unsafe or oversized values are dropped", () => {
  const html = `<meta property="og:image" content="javascript:alert(1)">
    <meta property="og:description" content="${"x".repeat(1001)}">
    <meta property="og:title" content="fine">`;
  assert.deepEqual(parseOpenGraph(html, "https://e.org/"), { "og:title": "fine" });
  const flood = Array.from({ length: 51 }, (_, i) => `<meta property="og:x${i}" content="v">`).join("");
  assert.deepEqual(parseOpenGraph(`${flood}<title>t</title>`, "https://e.org/"), { "og:title": "t" });
});

test("entities, charsets and Content-Disposition file names", () => {
  assert.equal(decodeEntities("&lt;b&gt; &#233; &#xE9; &eacute; &amp"), "<b> é é &eacute; &");
  assert.equal(declaredCharset(`<head><meta charset="ISO-8859-1"></head>`), "iso-8859-1");
  assert.equal(declaredCharset(`<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">`), "shift_jis");
  assert.equal(declaredCharset(`<p>no charset</p>`), undefined);
  assert.equal(fileNameFromDisposition(`attachment; filename="cat \\"1\\".png"`), 'cat "1".png');
  assert.equal(fileNameFromDisposition(`inline; filename*=utf-8''%E6%97%A5.png`), "日.png");
  assert.equal(fileNameFromDisposition(`inline; filename=plain.gif`), "plain.gif");
  assert.equal(fileNameFromDisposition(null), undefined);
});
