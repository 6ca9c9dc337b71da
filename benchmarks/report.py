"""Turn measurements into a text table, latest.json, latest.rst and latest.png.

Every number is a median over the repetitions. The speed-up column is
``reference / gevent_c``: above 1 gevent_c is that many times faster (for
B/obj rows: uses that many times less memory), below 1 it is slower.
"""
import json
import os
import textwrap

from .registry import IMPL_ORDER, UNITS

LEGEND = (
    "Medians of {reps}, each in a fresh process. ns/op: time per "
    "operation; B/obj: resident memory per object. Lower is better in "
    "every column. speed-up = reference / gevent_c, where the reference is "
    "gevent (core, dns, hub, io) or greenlet (coroutine): above 1 gevent_c is that "
    "many times faster (or smaller), below 1 it is slower. blocking: "
    "plain stdlib blocking sockets with the sender in a thread "
    "(io.socketpair_bulk only). n/a: "
    "the implementation is missing or failed (reason in the notes)."
)


def legend(reps):
    return textwrap.fill(LEGEND.format(reps=f"{reps} run" + "s" * (reps != 1)), 79)


def speedup(impls, reference):
    ours = impls.get("gevent_c", {}).get("median")
    ref = impls.get(reference, {}).get("median") if reference else None
    if not ours or not ref:
        return None
    return ref / ours


def fmt_value(value):
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_speedup(value):
    return "n/a" if value is None else f"{value:.2f}x"


def columns(data):
    """Implementation columns that appear in at least one workload."""
    present = {impl for w in data["workloads"] for impl in w["impls"]}
    return [impl for impl in IMPL_ORDER if impl in present]


def rows(data, empty):
    """Header, rows and notes; ``empty`` marks a cell with no measurement."""
    impls = columns(data)
    header = ["workload", "unit", *impls, "speed-up"]
    notes = {}  # reason -> number, in order of first appearance
    body = []
    for w in data["workloads"]:
        row = [w["name"], UNITS[w["unit"]]]
        for impl in impls:
            rec = w["impls"].get(impl)
            if rec is None:
                row.append(empty)
            elif rec["na"] is not None:
                number = notes.setdefault(rec["na"], len(notes) + 1)
                row.append(f"n/a [{number}]")
            else:
                row.append(fmt_value(rec["median"]))
        row.append(fmt_speedup(w["speedup"]))
        body.append(row)
    return header, body, [(f"[{number}]", reason) for reason, number in notes.items()]


def _aligned(header, body):
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(wd) for c, wd in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    return widths, line


def text_table(data):
    header, body, notes = rows(data, "-")
    widths, line = _aligned(header, body)
    rule = "  ".join("-" * wd for wd in widths)
    meta = data["meta"]
    out = [line(header), rule, *map(line, body), ""]
    out.append(legend(meta["reps"]))
    out += [f"{number} {reason}" for number, reason in notes]
    return "\n".join(out)


def rst_literal(text):
    """An error message as inline literal text, rendered exactly as written."""
    text = text.strip()
    if "`" not in text:
        return f"``{text}``"
    for char in "\\*`|_":  # a backtick would end the literal: escape instead
        text = text.replace(char, "\\" + char)
    return text


def rst_table(data):
    header, body, notes = rows(data, "")
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * wd for wd in widths)

    def line(cells):
        return "  ".join(c.ljust(wd) for c, wd in zip(cells, widths)).rstrip()

    meta = data["meta"]
    v = meta["versions"]
    refs = ", ".join(f"{k} {v[k]}" for k in ("gevent", "greenlet", "uvloop") if v.get(k))
    out = [rule, line(header), rule, *map(line, body), rule, ""]
    out.append(legend(meta["reps"]))
    out.append("")
    out.append(f"Measured {meta['date']} at commit {meta['commit'] or 'unknown'} "
               f"on CPython {v['python']}, {meta['cpus']} CPUs; {refs}"
               + (" (--quick)" if meta["quick"] else "") + ".")
    if notes:
        out.append("")
        out += [f"- {number}: {rst_literal(reason)}"
                for number, reason in notes]
    return "\n".join(out) + "\n"


def plot(data, path):
    """Bar chart of each implementation relative to the reference (=1)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    workloads = [w for w in data["workloads"]
                 if w["reference"] and w["impls"][w["reference"]]["median"]]
    impls = columns(data)
    colors = dict(zip(IMPL_ORDER, ("#d62728", "#1f77b4", "#1f77b4", "#9467bd", "#7f7f7f", "#2ca02c")))
    height = 0.8 / max(1, len(impls) - 1)
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * max(1, len(workloads))))
    labels_done = set()
    for y, w in enumerate(workloads):
        ref = w["impls"][w["reference"]]["median"]
        shown = [i for i in impls if i in w["impls"]]
        for k, impl in enumerate(shown):
            offset = (k - (len(shown) - 1) / 2) * height
            median = w["impls"][impl]["median"]
            label = None if impl in labels_done else impl
            if median is None:
                ax.text(1.0, y + offset, f" {impl}: n/a", va="center", fontsize=7,
                        color=colors[impl])
                continue
            labels_done.add(impl)
            ax.barh(y + offset, median / ref, height=height * 0.9,
                    color=colors[impl], label=label,
                    alpha=0.55 if impl == "greenlet" else 1.0)
    ax.set_yticks(range(len(workloads)))
    ax.set_yticklabels([w["name"] for w in workloads], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("median relative to the reference (gevent or greenlet = 1); "
                  "lower is better")
    ax.set_title(f"gevent_c benchmarks, {data['meta']['date']}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_all(data, out_dir):
    """Write latest.json, latest.rst and latest.png; return notes to print."""
    os.makedirs(out_dir, exist_ok=True)
    notes = []
    json_path = os.path.join(out_dir, "latest.json")
    _write(json_path, json.dumps(data, indent=1) + "\n")
    rst_path = os.path.join(out_dir, "latest.rst")
    _write(rst_path, rst_table(data))
    notes.append(f"wrote {json_path} and {rst_path}")
    png_path = os.path.join(out_dir, "latest.png")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        notes.append("matplotlib is not installed: no chart "
                     "(make bench installs them: pip install --group bench)")
        return notes
    tmp = png_path + ".tmp"
    try:
        plot(data, tmp)
        os.replace(tmp, png_path)
        notes.append(f"wrote {png_path}")
    except Exception as exc:  # noqa: BLE001  a chart must not lose the numbers
        notes.append(f"chart failed: {type(exc).__name__}: {exc}")
    return notes
