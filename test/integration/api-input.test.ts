import { describe, expect, it } from "vitest";
import { api, createIssue, expectProblem, json } from "../support/api";
import { projectWithTracker } from "../support/trackers";

describe("API text must be storable", () => {
  it("invalid UTF-8, lone surrogates and NUL in a JSON body are refused with 400 naming the field; nothing is stored", async () => {
    const { project } = await projectWithTracker("github", { syncDirection: "outbound" });
    const post = (rawBody: BodyInit) => api(`/api/v1/projects/${project.id}/issues`, { method: "POST", rawBody });
    const cases: [BodyInit, string][] = [
      [new Uint8Array([...new TextEncoder().encode('{"title":"bad '), 0xff, 0xfe, ...new TextEncoder().encode('"}')]), "(body)"],
      ['{"title":"half a pair \\ud800 here"}', "title"],
      ['{"title":"ok","body":"x\\udc00"}', "body"],
      ['{"title":"nul \\u0000 inside"}', "title"],
      ['{"title":"ok","labels":["fine","bad\\u0000"]}', "labels.1"],
    ];
    for (const [body, field] of cases) {
      const refused = await expectProblem(await post(body), 400);
      expect(refused.errors?.map((e) => e.field)).toEqual([field]);
    }
    expect((await json(await api(`/api/v1/projects/${project.id}/issues`))).items).toHaveLength(0);
    // A real pair (an emoji written as escapes) is text like any other.
    const ok = await post('{"title":"rocket \\ud83d\\ude80"}');
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as any).title).toBe("rocket \u{1f680}");
  });

  it("a project's name with a lone surrogate is refused on create and PATCH", async () => {
    const { project } = await projectWithTracker("github");
    const patched = await expectProblem(await api(`/api/v1/projects/${project.id}`, { method: "PATCH", rawBody: '{"name":"x\\ud800"}' }), 400);
    expect(patched.errors?.map((e) => e.field)).toEqual(["name"]);
    await createIssue(project.id, { title: "still fine" });
  });
});

describe("limit is a decimal page size", () => {
  it("hex, exponent, signed, padded and fractional forms are refused with 400 naming limit", async () => {
    const { project } = await projectWithTracker("github");
    for (const limit of ["0x10", "1e2", "+5", " 7", "07", "2.0", "0", "501", ""]) {
      for (const path of [`/api/v1/projects/${project.id}/issues`, "/api/v1/projects", `/api/v1/projects/${project.id}/activity`]) {
        const refused = await expectProblem(await api(`${path}?limit=${encodeURIComponent(limit)}`), 400);
        expect(refused.errors?.map((e) => e.field)).toEqual(["limit"]);
      }
    }
    expect((await api(`/api/v1/projects/${project.id}/issues?limit=16`)).status).toBe(200);
    expect((await api("/api/v1/projects?limit=500")).status).toBe(200);
    expect((await api("/api/v1/projects")).status).toBe(200);
    const spec = await json(await api("/openapi.json"));
    const param = spec.paths["/api/v1/projects"].get.parameters.find((p: any) => p.name === "limit");
    expect(param.schema.type).toBe("integer");
  });
});
