#!/usr/bin/env python3
"""fieldsync search and filters, checked against a corpus with known contents.

Seven sites (HQ and two offices in each of three missions) write reports at
three dates; HQ receives everything by bundle, edits some, deletes some, and
meets concurrent edits (open conflicts). Every query's expected answer is
computed here from the generated documents, independently of the index, and
compared with what `fieldsync search`, `list` and `export` return; `--csv`
output is read back with Python's csv module. Then an import is killed
mid-way and the index must still match the documents the replica holds.

usage: search_corpus.py FIELDSYNC DIR N_DOCS
"""
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unicodedata

FS, DIR, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
MISSIONS = {"MLI": ["bamako", "gao"], "SSD": ["juba", "malakal"],
            "COD": ["goma", "bukavu"]}
SITE_SCOPE = {s: m for m, sites in MISSIONS.items() for s in sites}
SITES = list(SITE_SCOPE)
KINDS = ["analysis", "plan", "risk", "report"]
THEMES = ["displacement", "cholera", "flooding", "convoy", "ceasefire",
          "elections", "recruitment", "landmines", "famine", "curfew"]
FILLER = ("the of and patrols reported along axis markets villages local "
          "authorities partners meeting week situation remains tense "
          "humanitarian access road north south").split()
REGIONS = ["Gao", "Menaka", "Kidal", "Juba", "Malakal", "Goma", "Bukavu"]
DAYS = [60, 20, 2]  # each document is written this many days ago
NOW = time.time()
failures = []


def run(*args, env=None, check=True):
    r = subprocess.run([FS, *args], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        sys.exit(f"FAIL: fieldsync {' '.join(args)}: {r.stderr.strip()}")
    return r


def fs(site, *args, **kw):
    return run("--db", f"{DIR}/{site}.db", *args, **kw)


def at_days_ago(days):
    """An environment whose clock (libfaketime) reads `days` ago, noon UTC."""
    t = time.gmtime(NOW - days * 86400)
    env = dict(os.environ)
    env["FAKETIME"] = time.strftime("@%Y-%m-%d 12:00:00", t)
    env["LD_PRELOAD"] = os.environ["FSY_FAKETIME_LIB"]
    return env


def make_docs():
    rnd = random.Random(7)
    docs = {}
    for i in range(N):
        site = SITES[i % len(SITES)]
        kind = KINDS[rnd.randrange(len(KINDS))]
        themes = rnd.sample(THEMES, rnd.randint(0, 2))
        words = rnd.choices(FILLER, k=20) + themes
        rnd.shuffle(words)
        body = " ".join(words)
        if i % 17 == 0:
            body += ' Witnesses said "enough, no more",\nthen left.'
        if i % 23 == 0:
            body += " Des familles déplacées arrivent."
        if i % 29 == 0:
            body += " An armed group was seen."
        doc = {"scope": SITE_SCOPE[site], "id": f"{kind}-{site}-{i:05}",
               "kind": kind, "site": site, "sites": {site},
               "days": DAYS[i % 3], "conflict": False, "deleted": False,
               "fields": {"title": f"{kind.title()} {site} {i}: "
                          f"{' and '.join(themes) or 'situation'}",
                          "status": rnd.choice(["draft", "review", "final"]),
                          "region": rnd.choice(REGIONS), "body": body},
               "extra": []}  # values of the losing side of a conflict
        docs[(doc["scope"], doc["id"])] = doc
    return docs


def ndjson(docs):
    return "".join(json.dumps({"scope": d["scope"], "id": d["id"],
                               "kind": d["kind"], "fields": d["fields"]}) + "\n"
                   for d in docs)


def write_sites(docs):
    for site in SITES:
        fs(site, "init", "--site", site)
        for days in DAYS:
            part = [d for d in docs.values()
                    if d["site"] == site and d["days"] == days]
            path = f"{DIR}/{site}-{days}.ndjson"
            with open(path, "w") as f:
                f.write(ndjson(part))
            fs(site, "import", path, env=at_days_ago(days))


def carry(src, dst):
    fs(dst, "vv", "-o", f"{DIR}/{dst}.vv")
    fs(src, "bundle", "export", "--to-vv", f"{DIR}/{dst}.vv",
       "-o", f"{DIR}/{src}.fsb")
    fs(dst, "bundle", "import", "--allow-unsigned", f"{DIR}/{src}.fsb")


def hq_work(docs):
    """HQ edits gao's reports, deletes some of bamako's, and writes a
    concurrent assessment on juba's reports after juba did."""
    fs("hq", "init", "--site", "hq")
    for site in SITES:
        carry(site, "hq")
    gao = sorted(k for k, d in docs.items() if d["site"] == "gao")[:100]
    for k in gao:
        fs("hq", "put", k[1], "--scope", k[0], "--set", "status=endorsed")
        d = docs[k]
        d.update(site="hq", days=0)
        d["sites"].add("hq")
        d["fields"]["status"] = "endorsed"
    for k in sorted(k for k, d in docs.items() if d["site"] == "bamako")[:30]:
        fs("hq", "rm", k[1], "--scope", k[0])
        docs[k]["deleted"] = True
    juba = sorted(k for k, d in docs.items() if d["site"] == "juba")[:20]
    for k in juba:
        fs("juba", "put", k[1], "--scope", k[0], "--set",
           "assessment=escalation likely")
    time.sleep(0.05)  # HQ's versions are the later ones
    for k in juba:
        fs("hq", "put", k[1], "--scope", k[0], "--set",
           "assessment=stabilising")
        d = docs[k]
        d.update(site="hq", days=0, conflict=True)
        d["sites"].add("hq")
        d["fields"]["assessment"] = "stabilising"
        d["extra"] = ["escalation likely"]
    carry("juba", "hq")


def fold(text):
    """Lower case without diacritics, as the index's tokenizer sees it."""
    nfd = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in nfd if not unicodedata.combining(c))


def tokens(d):
    vals = list(d["fields"].values()) + d["extra"]
    return [re.findall(r"\w+", fold(v)) for v in vals]


def has(d, word):
    return any(word in toks for toks in tokens(d))


def has_phrase(d, words):
    n = len(words)
    return any(toks[i:i + n] == words for toks in tokens(d)
               for i in range(len(toks)))


def has_prefix(d, pre):
    return any(t.startswith(pre) for toks in tokens(d) for t in toks)


def visible(docs):
    return [d for d in docs.values() if not d["deleted"]]


def keys(docs):
    return sorted(f'{d["scope"]}/{d["id"]}' for d in docs)


def got_keys(args, cmd="list"):
    out = fs("hq", cmd, *args, "--json",
             *(["--limit", "0"] if cmd != "export" else [])).stdout
    return sorted(f'{o["scope"]}/{o["id"]}' for o in json.loads(out))


def check(label, args, want, cmd="list"):
    got = got_keys(args, cmd)
    if got != keys(want):
        failures.append(f"{label}: {cmd} {' '.join(args)}: wanted "
                        f"{len(want)} documents, got {len(got)}: "
                        f"missing {sorted(set(keys(want)) - set(got))[:5]}, "
                        f"extra {sorted(set(got) - set(keys(want)))[:5]}")
    return len(got)


def check_export(label, args, want):
    out = fs("hq", "export", *args).stdout
    got = sorted(f'{o["scope"]}/{o["id"]}' for o in map(json.loads,
                                                       out.splitlines()))
    if got != keys(want):
        failures.append(f"{label}: export {' '.join(args)}: wanted "
                        f"{len(want)}, got {len(got)}")


def recent(d, days):
    return d["days"] < days


def text_queries(docs):
    vis = visible(docs)
    for w in THEMES:
        check(f"word {w}", [w], [d for d in vis if has(d, w)], "search")
    check("phrase", ['"armed group"'],
          [d for d in vis if has_phrase(d, ["armed", "group"])], "search")
    check("prefix", ["displac*"],
          [d for d in vis if has_prefix(d, "displac")], "search")
    check("accents", ["deplacees"], [d for d in vis if has(d, "deplacees")],
          "search")
    check("OR", ["cholera OR flooding"],
          [d for d in vis if has(d, "cholera") or has(d, "flooding")], "search")
    check("NOT", ["cholera NOT flooding"],
          [d for d in vis if has(d, "cholera") and not has(d, "flooding")],
          "search")
    check("AND", ["cholera AND curfew"],
          [d for d in vis if has(d, "cholera") and has(d, "curfew")], "search")
    check("conflict side", ["escalation"], [d for d in vis if d["extra"]],
          "search")
    check("title column", ["title:cholera"],
          [d for d in vis if has({"fields": {"t": d["fields"]["title"]},
                                  "extra": []}, "cholera")], "search")


def filter_queries(docs):
    vis = visible(docs)
    for scope in MISSIONS:
        check(f"scope {scope}", ["--scope", scope],
              [d for d in vis if d["scope"] == scope])
    check("two scopes", ["--scope", "MLI", "--scope", "SSD"],
          [d for d in vis if d["scope"] in ("MLI", "SSD")])
    check("two kinds", ["--kind", "plan", "--kind", "risk"],
          [d for d in vis if d["kind"] in ("plan", "risk")])
    for site in SITES + ["hq"]:
        check(f"site {site}", ["--site", site],
              [d for d in vis if d["site"] == site])
    check("any version", ["--site", "gao", "--any-version"],
          [d for d in vis if "gao" in d["sites"]])
    check("since 30d", ["--since", "30d"], [d for d in vis if recent(d, 30)])
    check("until 10d", ["--until", "10d"],
          [d for d in vis if not recent(d, 10)])
    check("range", ["--since", "30d", "--until", "10d"],
          [d for d in vis if recent(d, 30) and not recent(d, 10)])
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 60 * 86400))
    check("until a date", ["--until", day], [d for d in vis if d["days"] == 60])
    check("where", ["--where", "region=Gao"],
          [d for d in vis if d["fields"]["region"] == "Gao"])
    check("two wheres", ["--where", "region=Gao", "--where", "status=final"],
          [d for d in vis if d["fields"]["region"] == "Gao"
           and d["fields"]["status"] == "final"])
    check("conflicts", ["--conflicts"], [d for d in vis if d["conflict"]])
    check("combined", ["cholera", "--scope", "MLI", "--scope", "COD",
                       "--kind", "analysis", "--since", "30d"],
          [d for d in vis if has(d, "cholera") and d["scope"] != "SSD"
           and d["kind"] == "analysis" and recent(d, 30)], "search")
    check("combined list", ["--site", "hq", "--conflicts", "--scope", "SSD"],
          [d for d in vis if d["conflict"]])
    check_export("export filters", ["--scope", "COD", "--where",
                                    "status=draft", "--since", "30d"],
                 [d for d in vis if d["scope"] == "COD" and recent(d, 30)
                  and d["fields"]["status"] == "draft"])


def csv_round_trip(docs):
    out = fs("hq", "export", "--csv", "--scope", "MLI").stdout
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    want = {d["id"]: d for d in visible(docs) if d["scope"] == "MLI"}
    if sorted(r["id"] for r in rows) != sorted(want):
        failures.append(f"csv: {len(rows)} rows for {len(want)} documents")
    for r in rows:
        d = want.get(r["id"], {"fields": {}})
        for f, v in d["fields"].items():
            if r.get(f) != v:
                failures.append(f"csv: {r['id']} {f}: {r.get(f)!r} != {v!r}")
                return
        if r["kind"] != d.get("kind") or r["updated_site"] != d.get("site"):
            failures.append(f"csv: {r['id']}: kind or site differs")
            return
    out = fs("hq", "search", "witnesses", "--csv", "--fields", "body",
             "--limit", "0").stdout
    bodies = [r["body"] for r in csv.DictReader(io.StringIO(out, newline=""))]
    if not bodies or any('"enough, no more",\nthen' not in b for b in bodies):
        failures.append("csv: quotes, commas or line breaks did not survive")


def killed_import():
    """kill -9 during an import: what the replica holds is indexed exactly."""
    rnd = random.Random(11)
    lines = [json.dumps({"scope": "MLI", "id": f"flash-{i:05}",
                         "kind": "report", "fields": {
                             "title": f"Flash {i}",
                             "body": " ".join(rnd.choices(THEMES + FILLER,
                                                          k=30))}})
             for i in range(max(N, 4000))]
    with open(f"{DIR}/flash.ndjson", "w") as f:
        f.write("\n".join(lines) + "\n")
    fs("kidal", "init", "--site", "kidal")
    p = subprocess.Popen([FS, "--db", f"{DIR}/kidal.db", "import", "--batch",
                          "50", f"{DIR}/flash.ndjson"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        n = fs("kidal", "status", "--json", check=False)
        if n.returncode == 0 and json.loads(n.stdout).get("documents", 0) > 200:
            break
        time.sleep(0.05)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()
    held = [json.loads(x) for x in
            fs("kidal", "export").stdout.splitlines()]
    docs = [{"scope": o["scope"], "id": o["id"], "fields": o["fields"],
             "extra": []} for o in held]
    for w in THEMES[:5]:
        got = sorted(f'{o["scope"]}/{o["id"]}' for o in json.loads(
            fs("kidal", "search", w, "--json", "--limit", "0").stdout))
        if got != keys([d for d in docs if has(d, w)]):
            failures.append(f"after kill -9 mid-import ({len(held)} held): "
                            f"search {w} differs")
    print(f"killed import: {len(held)} of {len(lines)} documents held, "
          f"index exact")


def main():
    docs = make_docs()
    t0 = time.time()
    write_sites(docs)
    hq_work(docs)
    vis = visible(docs)
    print(f"corpus: {len(vis)} visible documents, 3 scopes, 7 sites, "
          f"{sum(d['conflict'] for d in vis)} in conflict "
          f"({time.time() - t0:.1f} s to build)")
    text_queries(docs)
    filter_queries(docs)
    csv_round_trip(docs)
    killed_import()
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("all queries returned exactly the expected documents")


main()
