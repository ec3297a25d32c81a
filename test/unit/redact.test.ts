import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../src/redact";

describe("redactSecrets", () => {
  it("replaces a known secret and every credential shape, keeping the rest readable", () => {
    const text = [
      "Authorization: Bearer abcdefgh12345678 and token zyxwvuts9876",
      "ghs_0123456789abcdefABCDEF ghp_0123456789abcdefABCDEF github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
      "glpat-0123456789abcdefghij",
      "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjQyNDI0Mn0.c2lnbmF0dXJlc2lnbmF0dXJl",
      "0123456789abcdef0123456789abcdef01234567",
      "my-own-secret-value",
    ].join("\n");
    const out = redactSecrets(text, ["my-own-secret-value"]);
    expect(out).toContain("Authorization: Bearer [redacted] and token [redacted]");
    for (const leaked of ["abcdefgh12345678", "ghs_", "ghp_", "github_pat_", "glpat-", "eyJhbGci", "0123456789abcdef0123", "my-own-secret-value"]) expect(out).not.toContain(leaked);
    expect(redactSecrets("issue 42 not found (404)")).toBe("issue 42 not found (404)");
    expect(redactSecrets("the token rejected since yesterday; Basic authentication")).toBe("the token rejected since yesterday; Basic authentication");
  });
});
