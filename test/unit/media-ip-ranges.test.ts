import assert from "node:assert/strict";
import { test } from "node:test";
import { isBlockedAddress, parseCidr, parseIpAddress, rangeContains, type AddressPolicy } from "../../src/media/ip-ranges";
import { checkUrl, isPrivateHostName, parseDohAnswers } from "../../src/media/url-safety";

const noExtras: AddressPolicy = { blacklist: [], whitelist: [] };
const address = (text: string) => {
  const parsed = parseIpAddress(text);
  assert.ok(parsed, `${text} parses`);
  return parsed;
};
const isBlocked = (text: string, policy = noExtras) => isBlockedAddress(address(text), policy);

test("addresses parse in their canonical and IPv6 shorthand forms", () => {
  assert.deepEqual(parseIpAddress("127.0.0.1"), { version: 4, value: 0x7f000001n });
  assert.deepEqual(parseIpAddress("[::1]"), { version: 6, value: 1n });
  assert.deepEqual(parseIpAddress("::ffff:127.0.0.1"), parseIpAddress("::ffff:7f00:1"));
  assert.deepEqual(parseIpAddress("2001:db8::8a2e:370:7334"), parseIpAddress("2001:0db8:0000:0000:0000:8a2e:0370:7334"));
  for (const invalid of ["256.0.0.1", "1.2.3", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "example.com", ""]) {
    assert.equal(parseIpAddress(invalid), undefined, invalid);
  }
});

test("CIDR ranges clear host bits and contain exactly their addresses", () => {
  const range = parseCidr("10.1.2.3/8");
  assert.equal(range.network, 0x0a000000n);
  assert.ok(rangeContains(range, address("10.255.255.255")));
  assert.ok(!rangeContains(range, address("11.0.0.0")));
  assert.ok(!rangeContains(range, address("::ffff:10.0.0.1")), "IPv4 ranges do not match IPv6 addresses");
  assert.ok(rangeContains(parseCidr("192.0.2.7"), address("192.0.2.7")), "a bare address is a /32");
  for (const invalid of ["10.0.0.0/33", "::1/129", "abc", "1.2.3.4/8/9", "1.2.3.4/-1", "1.2.3.4/"]) {
    assert.throws(() => parseCidr(invalid), /not an IP range/, invalid);
  }
});

test("loopback, private, link-local, CGNAT, multicast and reserved IPv4 addresses are blocked", () => {
  for (const blocked of [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.255",
    "169.254.169.254",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.251",
    "239.255.255.250",
    "255.255.255.255",
  ]) {
    assert.ok(isBlocked(blocked), `${blocked} is blocked`);
  }
  for (const allowed of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "172.15.255.255", "93.184.216.34"]) {
    assert.ok(!isBlocked(allowed), `${allowed} is allowed`);
  }
});

test("IPv6 loopback, ULA, link-local, multicast and IPv4-embedding forms are blocked", () => {
  for (const blocked of [
    "::1",
    "::",
    "fe80::1",
    "febf::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:8.8.8.8",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "2001::1",
    "2001:db8::1",
    "2002:7f00:0001::1", // 6to4 for 127.0.0.1
    "2002:c0a8:0101::1", // 6to4 for 192.168.1.1
  ]) {
    assert.ok(isBlocked(blocked), `${blocked} is blocked`);
  }
  for (const allowed of ["2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2002:0808:0808::1"]) {
    assert.ok(!isBlocked(allowed), `${allowed} is allowed`);
  }
});

test("configured ranges add to the blacklist, and the whitelist makes exceptions", () => {
  const policy: AddressPolicy = { blacklist: [parseCidr("8.8.8.0/24"), parseCidr("2606:4700::/32")], whitelist: [parseCidr("127.0.0.1/32")] };
  assert.ok(isBlocked("8.8.8.8", policy));
  assert.ok(isBlocked("2606:4700:4700::1111", policy));
  assert.ok(!isBlocked("8.8.4.4", policy));
  assert.ok(!isBlocked("127.0.0.1", policy));
  assert.ok(isBlocked("127.0.0.2", policy));
});

test("URL checks see through every spelling of a blocked address", () => {
  for (const url of [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://[::1]:8008/",
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "https://10.0.0.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://user:pass@192.168.0.1/",
  ]) {
    const verdict = checkUrl(url, noExtras);
    assert.equal(verdict.allowed, false, url);
  }
});

test("URL checks refuse other schemes and host names that can only be local", () => {
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "data:text/html,hi", "not a url"]) {
    assert.equal(checkUrl(url, noExtras).allowed, false, url);
  }
  for (const name of ["localhost", "LOCALHOST.", "app.localhost", "printer.local", "metadata.google.internal", "router.home.arpa", "intranet"]) {
    assert.ok(isPrivateHostName(name), name);
    assert.equal(checkUrl(`http://${name}/`, noExtras).allowed, false, name);
  }
  const allowed = checkUrl("https://example.com/page?q=1", noExtras);
  assert.ok(allowed.allowed && allowed.address === undefined, "a public name is allowed, to be resolved later");
  const literal = checkUrl("http://93.184.216.34/", noExtras);
  assert.ok(literal.allowed && literal.address?.version === 4);
  const relative = checkUrl("/next", noExtras, "http://93.184.216.34/start");
  assert.ok(relative.allowed && relative.url.toString() === "http://93.184.216.34/next");
});

test("DNS-over-HTTPS answers yield their A and AAAA addresses only", () => {
  const answers = parseDohAnswers({
    Status: 0,
    Answer: [
      { name: "example.com", type: 5, data: "alias.example.net." },
      { name: "alias.example.net", type: 1, data: "10.0.0.5" },
      { name: "alias.example.net", type: 28, data: "2606:4700::6810:84e5" },
      { name: "alias.example.net", type: 16, data: "\"txt\"" },
    ],
  });
  assert.deepEqual(answers.map((answer) => answer.version), [4, 6]);
  assert.ok(isBlockedAddress(answers[0]!, noExtras));
  assert.deepEqual(parseDohAnswers({ Status: 3 }), []);
  assert.deepEqual(parseDohAnswers("garbage"), []);
});
