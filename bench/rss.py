#!/usr/bin/env python3
"""RSS of citizen-idp as a user runs it: the release binary, the default settings (demo
on), no MALLOC_* variables. Idle 2 s after /readyz, after ten enrolments, after a few
logins through the demo relying party (docs/PERFORMANCE.md, "The server").

  bench/rss.py BIN [--postgres PG_URL REDIS_URL] [--malloc-threshold] [--time]

--postgres: on PostgreSQL + Redis (a database cidp_rss is created and dropped).
--malloc-threshold: with MALLOC_MMAP_THRESHOLD_=131072, for comparison.
--time: then 20 failed logins of unknown numbers (each a full Argon2 check), timed.
Needs python3 with requests. The server runs in a temporary directory, on port 18090.
"""
import csv, html, io, os, re, shutil, subprocess, sys, tempfile, time
import requests

PORT = 18090
BASE = f"http://127.0.0.1:{PORT}"
PASSWORD = "hoa sen nở giữa hồ 2026"
DEMO_ID, DEMO_PASSWORD = "001090000001", "demo-password-2026"


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


def hidden(page, name):
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page)
    if not m:
        raise SystemExit(f"no {name} in {page[:400]}")
    return html.unescape(m.group(1))


def enrol(citizen):
    s = requests.Session()
    page = s.get(f"{BASE}/enrol?lang=en").text
    form = {n: hidden(page, n) for n in ("flow", "csrf_token", "lang")}
    form.update(
        national_id=citizen["national_id"], full_name=citizen["full_name"],
        birth_date=citizen["birth_date"], id_card_number=citizen["id_card_number"],
        contact="0912 345 678", password=PASSWORD, password_confirm=PASSWORD)
    r = s.post(f"{BASE}/enrol", data=form, allow_redirects=False)
    if r.status_code not in (200, 303):
        raise SystemExit(f"enrol {citizen['national_id']}: {r.status_code} {r.text[:300]}")
    return r.status_code


def log_in(number, password):
    s = requests.Session()
    r = s.get(f"{BASE}/demo/login", allow_redirects=False)
    for _ in range(12):
        loc = r.headers.get("location")
        if loc:
            if "/demo/callback" in loc:
                r = s.get(requests.compat.urljoin(BASE, loc), allow_redirects=False)
                if r.status_code >= 400:
                    raise SystemExit(f"callback: {r.status_code} {r.text[:300]}")
                return True
            r = s.get(requests.compat.urljoin(BASE, loc), allow_redirects=False)
            continue
        page = r.text
        if 'action="/consent"' in page:
            data = {"flow": hidden(page, "flow"), "csrf_token": hidden(page, "csrf_token"),
                    "decision": "allow"}
            r = s.post(f"{BASE}/consent", data=data, allow_redirects=False)
        elif "csrf_token" in page and r.status_code == 200:
            data = {"flow": hidden(page, "flow"), "csrf_token": hidden(page, "csrf_token"),
                    "national_id": number, "password": password}
            r = s.post(f"{BASE}/login", data=data, allow_redirects=False)
        else:
            raise SystemExit(f"login: {r.status_code} {page[:300]}")
    raise SystemExit("too many hops")


def log_in_fail(number):
    s = requests.Session()
    r = s.get(f"{BASE}/demo/login")
    page = r.text
    data = {"flow": hidden(page, "flow"), "csrf_token": hidden(page, "csrf_token"),
            "national_id": number, "password": "wrong password 2026"}
    t = time.perf_counter()
    r = s.post(f"{BASE}/login", data=data, allow_redirects=False)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code not in (200, 400, 401, 403):
        raise SystemExit(f"failed login: {r.status_code}")
    return elapsed


def main():
    binary = os.path.realpath(sys.argv[1])
    args = sys.argv[2:]
    pg = None
    if "--postgres" in args:
        at = args.index("--postgres")
        pg = args[at + 1:at + 3]
    work = tempfile.mkdtemp(prefix="cidp-rss-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["CITIZEN_IDP__LOG__FILTER"] = "warn"
    if "--malloc-threshold" in args:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    if pg:
        db = "cidp_rss"
        subprocess.run(["psql", pg[0] + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"], check=True)
        subprocess.run(["psql", pg[0] + "/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
        env.update(CITIZEN_IDP__DATABASE__URL=f"{pg[0]}/{db}?sslmode=disable",
                   CITIZEN_IDP__REDIS__URL=pg[1],
                   CITIZEN_IDP__REDIS__KEY_PREFIX=f"cidp-rss-{os.getpid()}:",
                   CITIZEN_IDP__DEMO__ALLOW_IN_PRODUCTION="true")
    server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{PORT}"], cwd=work,
                              env=env, stdout=open(f"{work}/log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if requests.get(f"{BASE}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("not ready: " + open(f"{work}/log").read()[-2000:])
        time.sleep(2)
        pid = server.pid
        r = rollup(pid)
        print(f"idle: VmRSS {status(pid, 'VmRSS'):.1f} MB (anonymous {r.get('Anonymous', 0):.1f}, "
              f"file {r.get('Rss', 0) - r.get('Anonymous', 0):.1f}); VmHWM {status(pid, 'VmHWM'):.1f} MB")
        export = subprocess.run([binary, "population", "export", "-"], cwd=work, env=env,
                                check=True, capture_output=True, text=True).stdout
        rows = [c for c in csv.DictReader(io.StringIO(export))
                if c["national_id"] != DEMO_ID and c.get("life_status", "living") == "living"
                and c["birth_date"] < "2005-01-01"][:10]
        for c in rows:
            enrol(c)
        print(f"after {len(rows)} enrolments: VmRSS {status(pid, 'VmRSS'):.1f} MB; "
              f"VmHWM {status(pid, 'VmHWM'):.1f} MB")
        logins = [(DEMO_ID, DEMO_PASSWORD)] + [(c["national_id"], PASSWORD) for c in rows[:4]]
        for number, password in logins:
            log_in(number, password)
        print(f"after {len(logins)} logins: VmRSS {status(pid, 'VmRSS'):.1f} MB; "
              f"VmHWM {status(pid, 'VmHWM'):.1f} MB")
        if "--time" in args:
            # Unknown numbers: each a full Argon2 check against the dummy hash.
            times = []
            for i in range(20):
                times.append(log_in_fail(f"0010999{i:05d}"))
            times.sort()
            print(f"POST /login of an unknown number: median {times[10]:.1f} ms, "
                  f"min {times[0]:.1f} ms over 20")
        time.sleep(2)
        r = rollup(pid)
        print(f"2 s later: VmRSS {status(pid, 'VmRSS'):.1f} MB (anonymous {r.get('Anonymous', 0):.1f})")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
        if pg:
            subprocess.run(["psql", pg[0] + "/postgres", "-qc", "DROP DATABASE IF EXISTS cidp_rss"])


main()
