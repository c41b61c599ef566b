"""Helpers of bench/pipeline.sh (run with the benchmark's own venv, which has matplotlib).

  pipeline.py sample OUT.csv STOPFILE name=pid ... [--reset name,...]
      Every second, each process's CPU time (utime + stime, clock ticks) and resident memory
      (VmRSS); `postgres` and `tansu` are every process of that name, summed (backends come and
      go). Names listed in --reset have their peak resident memory (VmHWM) reset first
      (/proc/PID/clear_refs), so the peak read at the end is the run's. Stops when STOPFILE exists
      and writes OUT.csv.summary.json: CPU seconds over the window, peak and last RSS per name.
  pipeline.py plot POINTS.csv SAMPLES.csv OUT.png TITLE LOAD_START_MS
  pipeline.py report …   (see bench/pipeline.sh)
      Writes the run's section of docs/benchmarks.md and a JSON summary of its figures (the
      SUMMARY.json argument, docs/benchmark-runs/pipeline-N-Ss.json) for `scaling`.
  pipeline.py scaling OUT.png SUMMARY.json ...   (see bench/pipeline-scaling.sh)
      From the runs' summaries: OUT.png (p99 latency and CPU per notification against N) and the
      "### Flat cost across N" part of the whole-pipeline section of docs/benchmarks.md.
"""
import datetime
import json
import os
import re
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_usage(pid):
    """(cpu ticks, rss kB, hwm kB) of a process, or None if it is gone."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    value = lambda key: int(re.search(rf"^{key}:\s+(\d+)", status, re.M).group(1)) if re.search(rf"^{key}:", status, re.M) else 0
    return ticks, value("VmRSS"), value("VmHWM")


def pids_named(name):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = open(f"/proc/{entry}/comm").read().strip()
        except OSError:
            continue
        if comm == name or (name == "postgres" and comm.startswith("postgres")):
            found.append(int(entry))
    return found


def sample(out, stopfile, specs, reset):
    fixed = {}
    groups = []
    for spec in specs:
        name, pid = spec.split("=", 1)
        if pid == "*":
            groups.append(name)
        else:
            fixed[name] = int(pid)
    for name in reset:
        if name in fixed:
            try:
                with open(f"/proc/{fixed[name]}/clear_refs", "w") as f:
                    f.write("5")
            except OSError as error:
                print(f"could not reset the peak memory of {name}: {error}", file=sys.stderr)
    start_ticks = {}  # (name, pid) -> ticks at first sight (0 for processes started later)
    last = {}  # (name, pid) -> latest ticks
    peak_rss = {}
    rows = []
    first = True
    started = time.time()
    while True:
        now = time.time()
        members = {name: [pid] for name, pid in fixed.items()}
        for name in groups:
            members[name] = pids_named(name)
        for name, pids in members.items():
            rss = 0
            for pid in pids:
                usage = proc_usage(pid)
                if usage is None:
                    continue
                ticks, rss_kb, _ = usage
                key = (name, pid)
                if key not in start_ticks:
                    start_ticks[key] = ticks if first else 0
                last[key] = ticks
                rss += rss_kb
            cpu = sum(last[k] - start_ticks[k] for k in last if k[0] == name)
            peak_rss[name] = max(peak_rss.get(name, 0), rss)
            rows.append((now, name, cpu, rss))
        first = False
        if os.path.exists(stopfile):
            break
        time.sleep(max(0.0, 1.0 - (time.time() - now)))
    with open(out, "w") as f:
        f.write("t,name,cpu_ticks,rss_kb\n")
        for row in rows:
            f.write("%.3f,%s,%d,%d\n" % row)
    summary = {"seconds": time.time() - started, "tick": TICK, "processes": {}}
    for name in members:
        cpu = sum(last[k] - start_ticks[k] for k in last if k[0] == name)
        entry = {"cpu_s": cpu / TICK, "peak_rss_mb": peak_rss.get(name, 0) / 1024}
        if name in fixed:
            usage = proc_usage(fixed[name])
            if usage:
                entry["hwm_mb"] = usage[2] / 1024
                entry["rss_mb"] = usage[1] / 1024
        summary["processes"][name] = entry
    json.dump(summary, open(out + ".summary.json", "w"), indent=1)


def read_csv(path):
    lines = open(path).read().strip().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def plot(points_csv, samples_csv, out_png, title, load_start_ms):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = float(load_start_ms) / 1000.0
    points = read_csv(points_csv)
    samples = read_csv(samples_csv)
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 2, 2]})
    x = [float(p["goal_s"]) for p in points]
    y = [float(p["latency_ms"]) / 1000.0 for p in points]
    multi = [int(p["dates"]) > 1 for p in points]
    ax1.scatter([a for a, m in zip(x, multi) if not m], [b for b, m in zip(y, multi) if not m],
                s=4, alpha=0.35, color="tab:blue", label="change of one date (each point: its goal event)")
    ax1.scatter([a for a, m in zip(x, multi) if m], [b for b, m in zip(y, multi) if m],
                s=6, alpha=0.6, color="tab:orange", label="sync of several dates")
    # Rolling p50 / p99 over 5-second windows of goal-event time.
    if x:
        width = 5.0
        end = max(x)
        centres, p50, p99 = [], [], []
        t = 0.0
        while t <= end:
            window = sorted(b for a, b in zip(x, y) if t <= a < t + width)
            if window:
                centres.append(t + width / 2)
                p50.append(window[len(window) // 2])
                p99.append(window[min(len(window) - 1, int(len(window) * 0.99))])
            t += width
        ax1.plot(centres, p50, color="black", lw=1.5, label="p50 per 5 s")
        ax1.plot(centres, p99, color="tab:red", lw=1.5, label="p99 per 5 s")
    ax1.axhline(2.0, color="tab:red", ls="--", lw=1, label="target p99 < 2 s")
    ax1.set_yscale("log")
    ax1.set_ylabel("notification → goal event (s)")
    ax1.set_title(title)
    ax1.legend(loc="upper left", fontsize=8, ncol=2)
    ax1.grid(True, which="both", alpha=0.3)

    names = []
    for s in samples:
        if s["name"] not in names:
            names.append(s["name"])
    for name in names:
        rows = [s for s in samples if s["name"] == name]
        ts = [float(r["t"]) - start for r in rows]
        ticks = [int(r["cpu_ticks"]) for r in rows]
        rss = [int(r["rss_kb"]) / 1024 for r in rows]
        cpu = [0.0] + [100.0 * (ticks[i] - ticks[i - 1]) / TICK / max(1e-3, ts[i] - ts[i - 1])
                       for i in range(1, len(ts))]
        ax2.plot(ts, cpu, lw=1, label=name)
        if name != "postgres":
            ax3.plot(ts, rss, lw=1, label=name)
    ax2.axhline(200, color="grey", ls=":", lw=1)
    ax2.set_ylabel("CPU, % of one core\n(200 % = the machine)")
    ax2.legend(loc="upper left", fontsize=8, ncol=4)
    ax2.grid(True, alpha=0.3)
    ax3.axhline(200, color="tab:red", ls="--", lw=1, label="target < 200 MB")
    ax3.set_ylabel("resident memory (MB)")
    ax3.set_xlabel("seconds since the load started")
    ax3.legend(loc="upper left", fontsize=8, ncol=4)
    ax3.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)


def field(key, text, default=float("nan")):
    m = re.search(r"\b" + re.escape(key) + r"=([^ ]+)", text)
    if not m:
        return default
    value = m.group(1)
    try:
        # "8806/s" is a rate of 8806.
        return float(value[:-2] if value.endswith("/s") else value)
    except ValueError:
        return value


def ms(v):
    return "–" if v != v else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")


def ratio(a, b):
    return "–" if not b or a != a or b != b else f"{a / b:,.2f}"


MODEL = """Each run is a day of a FitEx season compressed into the run's length (`bench/pipeline.sh`,
driver `bench/src/bin/pipeline-load/`). Release builds of the real binaries run as processes —
the Fitbit simulator (rate limit raised to 1,000,000 calls per user per hour, so the provider budget
is not what is measured), the subscriber, the fetcher, the goals service — with a database and
topics of the run's own, on a tansu broker of the run's own (memory storage, started empty: a
long-lived one that holds earlier runs' records is measurably slower) and PostgreSQL. The simulator
holds a synthetic cohort of N participants (21 days of history each); as `scripts/demo.sh` does,
`fitexctl import` connects them, `fitexctl programs create` makes one 8-week program that started
20 days ago (FitEx miles, adaptive goals), `fitexctl teams create` / `teams add` put them in teams
of 8; the fetcher then backfills everyone and the goals service computes their goals so far. Only
then does the measured load start, from a quiet pipeline.

**The day.** Each participant syncs 3–6 times (uniformly), at moments uniform over the run with
at least 5 s between two syncs of the same person: the order statistics of a Poisson process with a
dead time, so the cohort's syncs arrive as a Poisson stream (N × 4.5 / run length per second). The
dead time keeps the compression honest: a real day's syncs are minutes apart, and the fetcher's
3 s settle window (made for duplicate bursts) is not compressed with the day. Each sync raises the
participant's steps for their local today — the day builds up until the last sync reaches about
their usual level (the median of their history, ×0.7–1.3) — and the simulator pushes one signed
notification for it. 20 % of participants' first syncs also carry yesterday's late steps, and a
quarter of those the day before too (a notification per date, back to back). 30 % of syncs are
notified again — 1 identical POST (70 %) or 2 (30 %), 0.1–2 s later — like Fitbit's duplicate
notifications.

**The latency** of a change is measured from the moment its notification was sent to the moment the
first goal event that reflects it — a `GoalChanged` on the goals topic or a `TeamProgressChanged` on
the team-progress topic — reaches a consumer following those topics. "Reflects": either the event
carries the trace id of an activity event of the same participant at or after the first activity
event that stored those steps (or more) — the goals service consumes a participant's activity
events in order, so that recomputation read the change — or it is a `TeamProgressChanged` of the
participant's team computed after that first activity event was produced to Kafka (its record
timestamp; the fetcher commits the day before its relay produces the event, and a team week is
recomputed from every member's stored days, so a teammate's recomputation that late read it too).
The second rule matters: when a teammate's recomputation has already counted a change, the owner's
own recomputation finds the team week unchanged and publishes nothing, so by the first rule alone
the change would wait for its owner's next one. The subscriber's trace id does not reach the goal
events (the fetcher starts a new trace per fetch), so the driver also follows the notifications and
activity-days topics to join the hops.

**Baselines, measured in the same run** after the load on the idle pipeline: the subscriber's
capacity against a bare actix-web handler (`bench/src/bin/bare-http.rs`) and a raw rdkafka producer
(`bench/src/bin/raw-producer.rs`), each loaded by wrk with the same signed notifications as
`bench/subscriber.sh` (32 connections); a raw rdkafka producer → consumer on the same broker with the
services' client settings, at the run's notification rate (`bench/src/bin/kafka-latency.rs`); a plain
SQL upsert loop of activity-day rows, one commit each, on the same PostgreSQL
(`bench/src/bin/sql-upsert.rs`). The shortest path a change can take has three Kafka hops
(notifications, activity days, goal events) and two commits (the fetcher's, the goals service's),
plus one provider call: the "floor" below is 3 × the Kafka p50 + 2 × the upsert p50. CPU time and
resident memory come from `/proc/<pid>/stat` and `/proc/<pid>/status` (peak: `VmHWM`, reset at the
start of the load through `/proc/<pid>/clear_refs`), sampled every second for the plots.
Baseline: the raw producer → consumer's own, per record.
**Provider calls, all in.** The simulator counts every provider call a participant's budget pays
for, whatever it was answered (`all_in_calls_by_kind` and `all_in_calls_by_status` of
`/_sim/stats`, reset when the load starts and read after the wait for the last goal events): data
calls, `profile` (time-zone) calls, subscription calls, token endpoint calls (refreshes), and calls
answered 401 or 429. A distinct change is a new step count of a participant-day (a duplicate
notification is not one, and costs no call). The naive baseline is a fetcher that makes one data
call per notification POST (duplicates included) plus the one profile call per participant per day
that ours makes: notifications + participants (the run is one day).

**Targets (issue 15).** All-in provider calls per distinct change ≤ 1.05; p99 notification → goal
event < 2,000 ms (also given as a multiple of the same run's Kafka produce → consume p99); nothing
lost: every change answered by a goal event or, failing that, its steps (or more) in PostgreSQL
after the wait; each service of ours (subscriber, fetcher, goals) < 200 MB peak resident; CPU per
notification against the raw Kafka client's CPU per record: all pipeline processes together
(subscriber, fetcher, goals, tansu, PostgreSQL — not the simulator and the load driver, which
stand in for Fitbit and the participants) ≤ 8×, PostgreSQL ≤ 2.5×, the fetcher ≤ 1.5×. Each run
also writes its figures to `docs/benchmark-runs/pipeline-N-Ss.json`; `bench/pipeline-scaling.sh`
runs several N and compares them under "Flat cost across N".
"""


# Issue 15's targets.
CALLS_PER_CHANGE_TARGET = 1.05
P99_TARGET_MS = 2000
MEMORY_TARGET_MB = 200
# (label, process name or "pipeline" for all of them together, most CPU per notification as a
# multiple of the raw Kafka client's CPU per record).
CPU_TARGETS = [("all pipeline processes", "pipeline", 8.0), ("PostgreSQL", "postgres", 2.5),
               ("fetcher", "fetcher", 1.5)]
SERVICES = ["subscriber", "fetcher", "goals"]
# What the pipeline is; the simulator and the load driver stand in for Fitbit and the people.
PIPELINE_PROCESSES = SERVICES + ["tansu", "postgres"]
PROCESS_ORDER = ["simulator", "subscriber", "fetcher", "goals", "tansu", "postgres", "driver"]
PROCESS_LABELS = {
    "simulator": "Fitbit simulator (load)", "driver": "load driver + topic reader (load)",
    "tansu": "tansu broker (the run's own, memory storage)",
    "postgres": "PostgreSQL (all processes; RSS counts shared memory in each)",
    "pipeline": "**all pipeline processes** (subscriber, fetcher, goals, tansu, PostgreSQL)",
    "everything": "everything above, the load's processes included",
}
SECTION_HEADING = "## Whole pipeline (issue 8)"
SCALING_HEADING = "### Flat cost across N"
# A process's cost is flat across N when its ratio stays within this share of the smallest N's.
FLAT_BAND = 0.25


def met(ok):
    return "met" if ok else "**not met**"


def listed(pairs):
    """`a:1,b:2` as `a 1, b 2`."""
    items = [item.split(":", 1) for item in str(pairs).split(",") if ":" in item]
    return ", ".join(f"{k} {int(v):,}" for k, v in items) or "none"


def run_figures(users, seconds, pipe, kafka, usage_summary, variant, loadavg):
    """The run's figures, as the report shows them and the JSON summary keeps them."""
    f = lambda k: field(k, pipe)
    usage = usage_summary["processes"]
    posts_ok = f("posts_ok")
    kafka_records = field("records", kafka)
    # The raw client's CPU per record, in ms.
    raw_cpu_ms = 1000 * (field("cpu_ticks", kafka) / TICK) / kafka_records if kafka_records else float("nan")
    cpu_ms = {}
    for name in PROCESS_ORDER:
        if name in usage:
            cpu_ms[name] = usage[name]["cpu_s"] * 1000 / posts_ok if posts_ok else float("nan")
    cpu_ms["pipeline"] = sum(cpu_ms.get(n, 0.0) for n in PIPELINE_PROCESSES)
    cpu_ms["everything"] = sum(cpu_ms.get(n, 0.0) for n in PROCESS_ORDER)
    cpu_ratio = {name: v / raw_cpu_ms if raw_cpu_ms == raw_cpu_ms and raw_cpu_ms else float("nan")
                 for name, v in cpu_ms.items()}
    peak_mb = {name: u.get("hwm_mb", u["peak_rss_mb"]) for name, u in usage.items()}
    changes, changed_days = f("changes"), f("changed_user_days")
    p99, kafka_p99 = f("e2e_p99_ms"), field("p99_ms", kafka)
    calls_per_change = f("all_in_per_change")
    lost = f("lost")
    targets = {
        "all_in_calls_per_change": {"value": calls_per_change, "limit": CALLS_PER_CHANGE_TARGET,
                                    "met": calls_per_change <= CALLS_PER_CHANGE_TARGET},
        "p99_ms": {"value": p99, "limit": P99_TARGET_MS, "met": p99 < P99_TARGET_MS},
        "lost_changes": {"value": lost, "limit": 0, "met": lost == 0},
    }
    for name in SERVICES:
        targets[f"peak_mb_{name}"] = {"value": peak_mb.get(name, float("nan")), "limit": MEMORY_TARGET_MB,
                                      "met": peak_mb.get(name, float("inf")) < MEMORY_TARGET_MB}
    for _, name, limit in CPU_TARGETS:
        value = cpu_ratio.get(name, float("nan"))
        targets[f"cpu_ratio_{name}"] = {"value": value, "limit": limit, "met": value <= limit}
    return {
        "participants": int(users), "seconds": int(seconds), "variant": variant or None,
        "date": str(datetime.date.today()), "nproc": os.cpu_count(), "loadavg_at_start": loadavg,
        "notifications": int(posts_ok), "changes": int(changes), "changed_days": int(changed_days),
        "window_s": usage_summary["seconds"],
        "e2e_p50_ms": f("e2e_p50_ms"), "e2e_p99_ms": p99, "kafka_p99_ms": kafka_p99,
        "p99_over_kafka_p99": p99 / kafka_p99 if kafka_p99 else float("nan"),
        "all_in_calls": int(f("all_in_calls")), "all_in_per_change": calls_per_change,
        "all_in_per_changed_day": f("all_in_per_changed_day"),
        "naive_all_in_calls": int(f("naive_all_in_calls")),
        "naive_all_in_per_change": f("naive_all_in_per_change"),
        "naive_all_in_per_changed_day": f("naive_all_in_calls") / changed_days if changed_days else float("nan"),
        "answered": int(f("answered")), "lost": int(lost),
        "changed_days_in_database": int(f("changed_days_in_database")),
        "raw_client_cpu_ms_per_record": raw_cpu_ms,
        "cpu_ms_per_notification": cpu_ms, "cpu_ratio": cpu_ratio, "peak_rss_mb": peak_mb,
        "targets": targets,
    }


def json_safe(value):
    """NaN as null (JSON has no NaN)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def replace_subsection(text, heading, section, start, body_end):
    """`text` with the "### " subsection headed `heading` (between `start` and `body_end`) replaced
    by `section`; None when there is no such subsection."""
    existing = text.find(heading + "\n", start, body_end)
    if existing < 0:
        return None
    nxt = text.find("\n### ", existing + 1, body_end)
    stop = nxt + 1 if nxt >= 0 else body_end
    return text[:existing] + section + "\n" + text[stop:].lstrip("\n")


def section_bounds(text):
    """(start, end) of the whole-pipeline section of docs/benchmarks.md."""
    start = text.index(SECTION_HEADING)
    end_section = text.find("\n## ", start + 1)
    return start, (end_section if end_section >= 0 else len(text))


def closing_parts_at(text, start, body_end):
    """Where the section's closing parts (the scaling comparison, the notes) begin: runs go before."""
    found = [at for at in (text.find(SCALING_HEADING, start, body_end),
                           text.find("### What the runs show", start, body_end)) if at >= 0]
    return min(found) if found else body_end


def report(args):
    (users, seconds, pipe, kafka, sql, bare, raw, sub, usage_json, setup_s, teams, png, total_s,
     wrk_seconds, wrk_connections, baseline_seconds, problems, variant, overrides, loadavg,
     summary_json) = args
    usage_summary = json.load(open(usage_json))
    usage = usage_summary["processes"]
    fig = run_figures(users, seconds, pipe, kafka, usage_summary, variant, loadavg)
    f = lambda k, text=pipe: field(k, text)
    answered, changes = int(f("answered")), int(f("changes"))
    changed_days = int(f("changed_user_days"))
    users_i, seconds_i = int(users), int(seconds)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_gib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 1024 / 1024
    posts_ok = f("posts_ok")
    kafka_cpu_per_k = fig["raw_client_cpu_ms_per_record"]
    kafka_hwm = field("hwm_kb", kafka) / 1024
    floor = 3 * field("p50_ms", kafka) + 2 * field("p50_ms", sql)
    p99 = f("e2e_p99_ms")
    shape = dict(item.split(":") for item in str(f("syncs_shape")).split(",") if ":" in item)
    targets = fig["targets"]
    target_p99 = met(targets["p99_ms"]["met"])
    calls_per_change = fig["all_in_per_change"]
    target_calls = met(targets["all_in_calls_per_change"]["met"])
    lost = fig["lost"]
    stored_only = changes - answered - lost

    lines = []
    heading_line = f"### N = {users_i:,} participants, {seconds_i} s" + (f", {variant}" if variant else "")
    lines.append(heading_line + "\n")
    lines.append(
        f"Run: `{f'VARIANT={chr(39)}{variant}{chr(39)} ' if variant else ''}{overrides + ' ' if overrides else ''}bench/pipeline.sh {users} {seconds}` on {datetime.date.today()}; `nproc` = {os.cpu_count()} "
        f"({cpu}), {mem_gib:.1f} GiB memory; the simulator, the three services, tansu, PostgreSQL and the "
        f"load driver all share those {os.cpu_count()} cores (load average {loadavg} when the load started). "
        f"Setup (cohort, import, {int(teams):,} teams, backfill "
        f"and goals so far) took {float(setup_s):.0f} s; the whole script {float(total_s) / 60:.0f} min. "
        f"Figures: `{summary_json}`.\n")
    lines.append(
        f"Load: {users_i:,} participants, {int(shape.get('syncs', 0)):,} syncs "
        f"({int(shape.get('duplicated_syncs', 0)):,} with duplicate notifications; "
        f"{int(shape.get('two_day_first_syncs', 0)):,} first syncs carrying 2 dates, "
        f"{int(shape.get('three_day_first_syncs', 0)):,} carrying 3), {changes:,} distinct changes of "
        f"{changed_days:,} participant-days, {int(f('posts')):,} notification POSTs "
        f"({int(f('duplicate_posts')):,} duplicates) sent over {f('send_span_s'):.0f} s.\n")
    lines.append("| what | pipeline | baseline, same run | pipeline / baseline | target |")
    lines.append("|---|---|---|---|---|")
    lines.append(
        f"| notifications accepted by the subscriber, per second (the offered load: mean / busiest second) "
        f"| {f('accepted_per_s'):.0f} / {f('peak_per_s'):.0f} ({int(f('posts') - posts_ok)} not 2xx) "
        f"| subscriber's capacity below | {f('peak_per_s') / field('rps', sub):.3f} of capacity (busiest second) | – |")
    lines.append(
        f"| subscriber capacity, requests/s (wrk, {wrk_connections} connections, {wrk_seconds} s, one signed notification each) "
        f"| {field('rps', sub):,.0f} (p99 {ms(field('p99_ms', sub))} ms, {int(field('non2xx', sub))} non-2xx) "
        f"| bare actix-web handler {field('rps', bare):,.0f}; raw producer ({wrk_connections} in flight) {field('rate', raw):,.0f} "
        f"| {ratio(field('rps', sub), field('rps', bare))} / {ratio(field('rps', sub), field('rate', raw))} | – |")
    lines.append(
        f"| notification POST answered (simulator → subscriber → 204), p50 / p99 ms "
        f"| {f('post_p50_ms'):.1f} / {f('post_p99_ms'):.1f} "
        f"| raw producer ack, p50 / p99 {field('p50_ms', raw):.1f} / {field('p99_ms', raw):.1f} "
        f"| {ratio(f('post_p50_ms'), field('p50_ms', raw))} / {ratio(f('post_p99_ms'), field('p99_ms', raw))} | – |")
    lines.append(
        f"| provider calls, all in, per distinct change ({fig['all_in_calls']:,} calls: {listed(f('all_in_by_kind'))}; "
        f"answered {listed(f('all_in_by_status'))}) "
        f"| **{calls_per_change:.3f}** ({int(f('data_calls')):,} data calls, {int(f('identity_calls')):,} profile, "
        f"{int(f('subscription_calls')):,} subscription, {int(f('token_calls')):,} token, "
        f"{int(f('unauthorized_calls')):,} answered 401, {int(f('rate_limited_calls')):,} answered 429) "
        f"| naive, one call per notification + one profile call per participant per day: "
        f"{fig['naive_all_in_calls']:,} calls, {fig['naive_all_in_per_change']:.3f} per change "
        f"| {ratio(calls_per_change, fig['naive_all_in_per_change'])} "
        f"| **{calls_per_change:.3f}** ≤ {CALLS_PER_CHANGE_TARGET}: {target_calls} |")
    lines.append(
        f"| provider calls, all in, per changed participant-day (each changed {changes / max(1, changed_days):.2f} times) "
        f"| {fig['all_in_per_changed_day']:.3f} "
        f"| naive: {fig['naive_all_in_per_changed_day']:.3f} "
        f"| {ratio(fig['all_in_per_changed_day'], fig['naive_all_in_per_changed_day'])} | – |")
    lines.append(
        f"| notification → goal event, p50 ms | {ms(f('e2e_p50_ms'))} "
        f"| Kafka produce → consume p50 {field('p50_ms', kafka):.1f}; upsert p50 {field('p50_ms', sql):.2f}; floor {floor:.0f} "
        f"| {ratio(f('e2e_p50_ms'), field('p50_ms', kafka))} × Kafka; {ratio(f('e2e_p50_ms'), floor)} × floor | – |")
    lines.append(
        f"| notification → goal event, p99 ms (p90 {ms(f('e2e_p90_ms'))}, max {ms(f('e2e_max_ms'))}) | **{ms(p99)}** "
        f"| Kafka p99 {field('p99_ms', kafka):.1f}; upsert p99 {field('p99_ms', sql):.2f} "
        f"| {ratio(p99, field('p99_ms', kafka))} × Kafka | **{ms(p99)}** < 2,000: {target_p99} |")
    lines.append(
        f"| changes answered by a goal event | {answered:,} of {changes:,} (first by: {answered - int(f('answered_by_team_event')) - int(f('answered_by_teammate_event')):,} "
        f"their own goal event, {int(f('answered_by_team_event')):,} their own team event, "
        f"{int(f('answered_by_teammate_event')):,} a teammate's team event); of the {changes - answered:,} others "
        f"{stored_only:,} stored, **{lost:,} lost** "
        f"| – | – | **{lost:,}** lost = 0: {met(lost == 0)} |")
    lines.append("")
    lines.append("Where the time goes (each stage from the notification's sending, p50 / p99 ms):\n")
    lines.append("| stage | p50 | p99 |")
    lines.append("|---|---|---|")
    lines.append(f"| the subscriber has read it (`received_at`) | {ms(f('accepted_p50_ms'))} | {ms(f('accepted_p99_ms'))} |")
    lines.append(f"| the notification is on Kafka (seen by a consumer) | {ms(f('notification_p50_ms'))} | {ms(f('notification_p99_ms'))} |")
    lines.append(f"| its activity event is on Kafka (fetched, stored, published) | {ms(f('stored_p50_ms'))} | {ms(f('stored_p99_ms'))} |")
    lines.append(f"| … of which the fetcher's part (notification on Kafka → activity event on Kafka) | {ms(f('fetch_stage_p50_ms'))} | {ms(f('fetch_stage_p99_ms'))} |")
    lines.append(f"| the goal event is on Kafka (goals stage alone: activity event → goal event) | {ms(f('goals_stage_p50_ms'))} | {ms(f('goals_stage_p99_ms'))} |")
    lines.append(f"| goal events: `computed_at` → seen by a consumer (outbox relay + Kafka) | {ms(f('relay_p50_ms'))} | {ms(f('relay_p99_ms'))} |")
    lines.append("")
    lines.append(
        f"CPU and memory over the load ({float(usage_summary['seconds']):.0f} s window, incl. the wait for the last "
        f"goal events). Baseline: the raw producer → consumer process above, {kafka_cpu_per_k * 1000:.1f} ms of CPU per "
        f"1,000 records and {kafka_hwm:.0f} MB peak.\n")
    lines.append("| process | CPU s | CPU ms per notification | / raw client per record | peak resident MB | / raw client | < 200 MB |")
    lines.append("|---|---|---|---|---|---|---|")
    for name in PROCESS_ORDER:
        u = usage.get(name)
        if not u:
            continue
        per = fig["cpu_ms_per_notification"][name]
        peak = fig["peak_rss_mb"][name]
        mark = ("yes" if peak < MEMORY_TARGET_MB else "**no**") if name in SERVICES else "–"
        lines.append(
            f"| {PROCESS_LABELS.get(name, name)} | {u['cpu_s']:.1f} | {per:.2f} | {ratio(per, kafka_cpu_per_k)} | {peak:.0f} | {ratio(peak, kafka_hwm)} | {mark} |")
    for name, members in (("pipeline", PIPELINE_PROCESSES), ("everything", PROCESS_ORDER)):
        cpu_s = sum(usage[n]["cpu_s"] for n in members if n in usage)
        per = fig["cpu_ms_per_notification"][name]
        bold = "**" if name == "pipeline" else ""
        lines.append(
            f"| {PROCESS_LABELS[name]} | {cpu_s:.1f} | {per:.2f} | {bold}{ratio(per, kafka_cpu_per_k)}{bold} | – | – | – |")
    lines.append("")
    memory = ", ".join(f"{n} {fig['peak_rss_mb'].get(n, float('nan')):.0f} MB" for n in SERVICES)
    memory_met = all(targets[f"peak_mb_{n}"]["met"] for n in SERVICES)
    cpu_parts = []
    for label, name, limit in CPU_TARGETS:
        cpu_parts.append(f"{label} **{ratio(fig['cpu_ms_per_notification'][name], kafka_cpu_per_k)}** ≤ {limit:g} — "
                         f"{met(targets[f'cpu_ratio_{name}']['met'])}")
    lines.append("Targets (issue 15):\n")
    lines.append(f"- provider calls, all in, per distinct change: **{calls_per_change:.3f}** ≤ {CALLS_PER_CHANGE_TARGET} — "
                 f"{target_calls} ({ratio(calls_per_change, fig['naive_all_in_per_change'])} × naive's "
                 f"{fig['naive_all_in_per_change']:.3f}; {fig['all_in_per_changed_day']:.3f} per changed participant-day)")
    lines.append(f"- p99 notification → goal event: **{ms(p99)} ms** < 2,000 ms — {target_p99} "
                 f"({ratio(p99, fig['kafka_p99_ms'])} × this run's Kafka produce → consume p99 of {ms(fig['kafka_p99_ms'])} ms)")
    lines.append(f"- nothing lost: **{lost:,}** of {changes:,} changes lost — {met(lost == 0)} ({answered:,} answered by a goal "
                 f"event, {stored_only:,} stored without one; {fig['changed_days_in_database']:,} of {changed_days:,} changed "
                 f"participant-days in PostgreSQL at their last sent steps after the wait)")
    lines.append(f"- peak resident memory per service < 200 MB: {memory} — {met(memory_met)}")
    lines.append(f"- CPU per notification / the raw Kafka client's CPU per record: " + "; ".join(cpu_parts))
    lines.append("")
    notes = []
    if problems.strip() and problems.strip() != "0":
        notes.append(f"Warnings and errors logged by the services: {problems}.")
    if answered < changes:
        notes.append(f"{changes - answered} changes got no goal event within the wait: {int(f('not_stored'))} without an "
                     f"activity event on Kafka, {int(f('no_goal_event'))} with one but no goal event; {lost} of them "
                     f"not in the database either.")
    if notes:
        lines.extend(notes + [""])
    lines.append(f"![latency, CPU and memory over the run]({os.path.basename(png)})\n")
    section = "\n".join(lines)

    os.makedirs(os.path.dirname(summary_json) or ".", exist_ok=True)
    with open(summary_json, "w") as out:
        json.dump(json_safe(fig), out, indent=1, sort_keys=True)
        out.write("\n")

    path = "docs/benchmarks.md"
    text = open(path).read()
    intro = f"{SECTION_HEADING}\n\n{MODEL}\n"
    if SECTION_HEADING not in text:
        text = text.rstrip("\n") + "\n\n" + intro
    else:
        # Refresh the shared description, keep the runs.
        start, end_section = section_bounds(text)
        first_sub = text.find("\n### ", start, end_section)
        cut = first_sub if first_sub >= 0 else end_section
        text = text[:start] + intro + text[cut + 1:]
    start, body_end = section_bounds(text)
    replaced = replace_subsection(text, heading_line, section, start, body_end)
    if replaced is not None:
        text = replaced
    else:
        at = closing_parts_at(text, start, body_end)
        # Runs in order of N.
        for m in re.finditer(r"^### N = ([\d,]+) participants", text[start:at], re.M):
            if int(m.group(1).replace(",", "")) > users_i:
                at = start + m.start()
                break
        text = text[:at].rstrip("\n") + "\n\n" + section + "\n" + text[at:]
    open(path, "w").write(text.rstrip("\n") + "\n")
    print(section)


def change_mark(value, base):
    """`+12 %, within ±25 %` against the smallest N's value."""
    if value != value or base != base or not base:
        return "–"
    change = value / base - 1
    inside = abs(change) <= FLAT_BAND
    percent = round(change * 100)  # an int, so a tiny fall shows as +0, not -0
    return (f"{percent:+d} %, within ±{FLAT_BAND * 100:.0f} %" if inside
            else f"**{percent:+d} %, outside ±{FLAT_BAND * 100:.0f} %**")


def scaling(out_png, summary_paths):
    """The runs' CPU ratios and p99 against N: OUT.png and the "Flat cost across N" section."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((json.load(open(p)) | {"path": p} for p in summary_paths),
                  key=lambda r: (r["participants"], r["seconds"]))
    if not runs:
        sys.exit("scaling: no run summaries")
    nan = float("nan")
    value = lambda v: nan if v is None else v
    ns = [r["participants"] for r in runs]
    names = [n for n in PIPELINE_PROCESSES if any(n in r["cpu_ratio"] for r in runs)] + ["pipeline"]
    variant = runs[0].get("variant")

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 9), sharex=True)
    ax1.plot(ns, [value(r["e2e_p99_ms"]) / 1000 for r in runs], "o-", color="tab:red", label="p99")
    ax1.plot(ns, [value(r["e2e_p50_ms"]) / 1000 for r in runs], "o-", color="black", label="p50")
    ax1.plot(ns, [value(r["kafka_p99_ms"]) / 1000 for r in runs], "o:", color="grey",
             label="raw Kafka produce → consume p99 (same run)")
    ax1.axhline(P99_TARGET_MS / 1000, color="tab:red", ls="--", lw=1, label="target p99 < 2 s")
    ax1.set_yscale("log")
    ax1.set_ylabel("notification → goal event (s)")
    ax1.set_title("FitEx Sync pipeline across N" + (f", {variant}" if variant else "")
                  + ": " + ", ".join(f"{r['participants']:,} in {r['seconds']} s" for r in runs) + ", "
                  f"{runs[0]['nproc']} cores")
    ax1.legend(loc="best", fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    for name in names:
        label = "all pipeline processes" if name == "pipeline" else name
        style = dict(lw=2.5, color="black") if name == "pipeline" else dict(lw=1)
        ax2.plot(ns, [value(r["cpu_ratio"].get(name)) for r in runs], "o-", label=label, **style)
    for label, name, limit in CPU_TARGETS:
        ax2.axhline(limit, ls="--", lw=0.8, color="grey")
        ax2.annotate(f"target {label} ≤ {limit:g}×", (ns[0], limit), fontsize=7, color="grey",
                     xytext=(2, 2), textcoords="offset points")
    ax2.set_yscale("log")
    ax2.set_ylabel("CPU per notification\n/ raw Kafka client's CPU per record")
    ax2.set_xlabel("participants (N)")
    ax2.set_xscale("log")
    ax2.set_xticks(ns)
    ax2.set_xticklabels([f"{n:,}" for n in ns])
    ax2.legend(loc="best", fontsize=8, ncol=3)
    ax2.grid(True, which="both", alpha=0.3)
    # Plain numbers on the log axes (not 4×10⁰).
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax1.yaxis, ax2.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(plain)
    ax2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)

    base = runs[0]
    heading = SCALING_HEADING + (f", {variant}" if variant else "")
    lines = [heading + "\n"]
    lines.append(
        "`bench/pipeline-scaling.sh " + " ".join(f"{r['participants']}:{r['seconds']}" for r in runs) + "`: "
        f"each run's CPU per notification as a multiple of the same run's raw Kafka client's CPU per "
        f"record, and its change from N = {base['participants']:,} (flat: within ±{FLAT_BAND * 100:.0f} %). "
        f"Runs: " + "; ".join(f"N = {r['participants']:,} on {r['date']} (load average {r.get('loadavg_at_start') or '?'}, "
                               f"`{r['path']}`)" for r in runs) + ".\n")
    header = "| process | " + " | ".join(f"N = {r['participants']:,}, {r['seconds']} s" for r in runs) + " |"
    lines.append(header)
    lines.append("|---" * (len(runs) + 1) + "|")
    outside = []
    for name in names:
        cells = []
        for r in runs:
            v = value(r["cpu_ratio"].get(name))
            cell = "–" if v != v else f"{v:.2f}"
            if r is not base:
                mark = change_mark(v, value(base["cpu_ratio"].get(name)))
                cell += f" ({mark})"
                if "outside" in mark:
                    outside.append(f"{'all pipeline processes' if name == 'pipeline' else name} at N = {r['participants']:,}")
            cells.append(cell)
        label = PROCESS_LABELS["pipeline"] if name == "pipeline" else PROCESS_LABELS.get(name, name)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| notification → goal event p99 ms | " + " | ".join(
        f"{ms(value(r['e2e_p99_ms']))} ({met(r['targets']['p99_ms']['met'])})" for r in runs) + " |")
    lines.append("| provider calls, all in, per distinct change | " + " | ".join(
        f"{value(r['all_in_per_change']):.3f} ({met(r['targets']['all_in_calls_per_change']['met'])})" for r in runs) + " |")
    lines.append("")
    lines.append(f"Flat cost (every process within ±{FLAT_BAND * 100:.0f} % of N = {base['participants']:,} at every N): "
                 + (met(True) if not outside else f"{met(False)} — " + ", ".join(outside)) + ".")
    lines.append("")
    lines.append(f"![p99 latency and CPU per notification against N]({os.path.basename(out_png)})\n")
    section = "\n".join(lines)

    path = "docs/benchmarks.md"
    text = open(path).read()
    if SECTION_HEADING not in text:
        sys.exit(f"scaling: {path} has no '{SECTION_HEADING}' section (run bench/pipeline.sh first)")
    start, body_end = section_bounds(text)
    replaced = replace_subsection(text, heading, section, start, body_end)
    if replaced is not None:
        text = replaced
    else:
        notes = text.find("### What the runs show", start, body_end)
        at = notes if notes >= 0 else body_end
        text = text[:at].rstrip("\n") + "\n\n" + section + "\n" + text[at:]
    open(path, "w").write(text.rstrip("\n") + "\n")
    print(section)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "sample":
        specs = [a for a in sys.argv[4:] if "=" in a and not a.startswith("--")]
        reset = []
        if "--reset" in sys.argv:
            reset = sys.argv[sys.argv.index("--reset") + 1].split(",")
        sample(sys.argv[2], sys.argv[3], specs, reset)
    elif command == "plot":
        plot(*sys.argv[2:7])
    elif command == "report":
        report(sys.argv[2:])
    elif command == "scaling":
        scaling(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
