//! `report.html`: the run at a glance for the admin who opens last night's run or the manager
//! who approves a migration. One self-contained file (no scripts, fonts or images from
//! anywhere: it opens from a file share or as an attachment): summary cards, a bar chart of ops
//! by kind and status, a timeline of requests and throttling, and a filterable, sortable table of
//! everything that needs a look. Charts are inline SVG drawn here; a few lines of plain script
//! filter and sort the table. Every text from the input, Graph or the system is escaped
//! ([`esc`]); numbers are masked unless the run was told `--unmask`.

use crate::model::OpKind;
use crate::pipeline::executor::Status;
use crate::report::run::{Mode, RunReport, planned_counts, status_counts};
use std::fmt::Write;

/// Rows of the problem and planned-op tables: past this, the page says how many more the CSV
/// reports hold.
const TABLE_ROWS: usize = 2000;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --bg:#ffffff; --fg:#1b1f24; --muted:#59636e; --card:#f6f8fa; --line:#d1d9e0;
  --ok:#1a7f37; --fail:#cf222e; --skip:#9a6700; --block:#8250df; --none:#6e7781; --req:#0969da; --thr:#cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#0d1117; --fg:#e6edf3; --muted:#9198a1; --card:#161b22; --line:#30363d;
    --ok:#3fb950; --fail:#f85149; --skip:#d29922; --block:#a371f7; --none:#8b949e; --req:#4493f8; --thr:#f85149; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 16px; } .meta span { margin-right: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .value { font-size: 22px; font-weight: 600; } .card .label { color: var(--muted); font-size: 12px; }
.card.bad .value { color: var(--fail); } .card.good .value { color: var(--ok); }
svg { max-width: 100%; height: auto; } svg text { fill: var(--fg); font-size: 12px; }
svg .axis { stroke: var(--line); } .legend span { display: inline-block; margin-right: 14px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { cursor: pointer; user-select: none; white-space: nowrap; } th:after { content: " \2195"; color: var(--muted); }
.controls { margin: 6px 0 10px; } .controls input, .controls select { background: var(--card); color: var(--fg); border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; }
.note { color: var(--muted); }
* { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
@media print { body { max-width: none; padding: 0; } .controls { display: none; } th:after { content: ""; }
  .card, tr { break-inside: avoid; }
  :root { --bg:#fff; --fg:#000; --muted:#444; --card:#fff; --line:#bbb; --ok:#1a7f37; --fail:#cf222e; --skip:#9a6700; --block:#8250df; --none:#6e7781; --req:#0969da; --thr:#cf222e; } }
"#;

const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('items');
  if (table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var text = document.getElementById('filter'), kind = document.getElementById('kind');
    var apply = function () {
      var t = text.value.toLowerCase(), k = kind.value, shown = 0;
      rows.forEach(function (r) {
        var ok = (!k || r.dataset.kind === k) && (!t || r.textContent.toLowerCase().indexOf(t) >= 0);
        r.hidden = !ok; if (ok) shown++;
      });
      document.getElementById('shown').textContent = shown;
    };
    text.addEventListener('input', apply); kind.addEventListener('change', apply);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener('click', function () {
        var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
        rows.sort(function (a, b) {
          var x = a.cells[i].textContent, y = b.cells[i].textContent, nx = Number(x), ny = Number(y);
          return dir * (x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y));
        });
        rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
      });
    });
    apply();
  }
  document.body.dataset.ready = '1';
})();
"#;

/// The page of `r`.
pub fn page(r: &RunReport) -> String {
    let mut out = String::new();
    let title = format!("phonesync {} report", r.mode.as_str());
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\n<script>(function () {{ var note = function (m) {{ document.body.dataset.errors = (document.body.dataset.errors || '') + m + ';'; }}; window.addEventListener('error', function (e) {{ note(e.message || 'a resource failed to load'); }}, true); document.addEventListener('securitypolicyviolation', function (e) {{ note('blocked ' + e.violatedDirective); }}); var log = console.error; console.error = function () {{ note(Array.prototype.join.call(arguments, ' ')); log.apply(console, arguments); }}; }})();</script>\n"
    );
    let _ = writeln!(out, "<h1>{title}</h1>");
    let targets: Vec<String> = r.targets.iter().map(|t| esc(&t.title)).collect();
    let _ = writeln!(
        out,
        "<p class=\"meta\"><span>Started {}</span><span>Input {}</span><span>Graph: {}</span><span>Targets: {}</span><span>Prune {}</span>{}</p>",
        esc(&r.started_at),
        esc(&r.input.display().to_string()),
        esc(r.endpoint),
        targets.join(", "),
        if r.prune { "on" } else { "off" },
        if r.mode == Mode::Plan {
            "<span><b>A plan: nothing was changed.</b></span>"
        } else {
            ""
        }
    );
    cards(&mut out, r);
    chart(&mut out, r);
    timeline(&mut out, r);
    match r.mode {
        Mode::Plan => planned(&mut out, r),
        Mode::Apply => problems(&mut out, r),
    }
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body></html>");
    out
}

/// The summary cards; each carries its `summary.json` figure in `data-key`.
fn cards(out: &mut String, r: &RunReport) {
    let outcomes = r.outcomes.unwrap_or_default();
    let status = status_counts(outcomes.iter());
    let users = r.plan.targets.iter().map(|t| t.users.len()).max().unwrap_or(0);
    let stale = r.plan.skipped_as("stale");
    let skipped_users = r.plan.skipped_users();
    let mut cards: Vec<(&str, String, String, &str)> = vec![("users", users.to_string(), "users read".into(), "")];
    let keys: Vec<String> = r
        .plan
        .targets
        .iter()
        .flat_map(|p| {
            planned_counts(p)
                .into_iter()
                .map(move |(kind, _)| format!("planned-{}-{kind}", p.target))
        })
        .collect();
    let mut keys = keys.iter();
    for (plan, info) in r.plan.targets.iter().zip(r.targets) {
        for (kind, n) in planned_counts(plan) {
            let key = keys.next().map_or("planned", String::as_str);
            cards.push((key, n.to_string(), format!("{kind}: {}", info.title), ""));
        }
    }
    if r.outcomes.is_some() {
        let tone = |n: usize, bad: bool| {
            if n > 0 && bad {
                "bad"
            } else if n > 0 {
                "good"
            } else {
                ""
            }
        };
        cards.push((
            "succeeded",
            status["succeeded"].to_string(),
            "ops succeeded".into(),
            tone(status["succeeded"], false),
        ));
        cards.push((
            "failed",
            status["failed"].to_string(),
            "ops failed".into(),
            tone(status["failed"], true),
        ));
        cards.push((
            "skipped",
            status["skipped"].to_string(),
            "ops skipped".into(),
            tone(status["skipped"], true),
        ));
        cards.push(("blocked", status["blocked"].to_string(), "ops blocked".into(), ""));
    } else {
        let blocked = r.plan.ops().filter(|o| o.blocked.is_some()).count();
        cards.push(("blocked", blocked.to_string(), "ops blocked (not to be sent)".into(), ""));
    }
    cards.push((
        "skippedUsers",
        skipped_users.to_string(),
        "users skipped".into(),
        if skipped_users > 0 { "bad" } else { "" },
    ));
    cards.push(("stale", stale.to_string(), "users stale".into(), if stale > 0 { "bad" } else { "" }));
    cards.push((
        "rejected",
        r.rejects.len().to_string(),
        "rows rejected".into(),
        if r.rejects.is_empty() { "" } else { "bad" },
    ));
    cards.push(("duration", format!("{:.1} s", r.duration.as_secs_f64()), "duration".into(), ""));
    cards.push(("throttled", r.throttled.to_string(), "requests throttled".into(), ""));
    let _ = writeln!(out, "<h2>Summary</h2>\n<div class=\"cards\">");
    for (key, value, label, tone) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card {tone}\" data-key=\"{key}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            esc(&value),
            esc(&label)
        );
    }
    let _ = writeln!(out, "</div>");
}

/// Colour of a status in the charts.
fn colour(status: &str) -> &'static str {
    match status {
        "succeeded" => "var(--ok)",
        "failed" => "var(--fail)",
        "skipped" => "var(--skip)",
        "blocked" => "var(--block)",
        _ => "var(--none)",
    }
}

/// Horizontal bars: ops by kind, split by status after an apply; planned ops by target and kind
/// for a plan.
fn chart(out: &mut String, r: &RunReport) {
    // (label, [(status, n)])
    let mut bars: Vec<(String, Vec<(&'static str, usize)>)> = Vec::new();
    match r.outcomes {
        Some(outcomes) => {
            for kind in [OpKind::Add, OpKind::Update, OpKind::Delete] {
                let of_kind = outcomes.iter().filter(|o| o.op.kind == kind);
                let counts = status_counts(of_kind);
                let parts = [
                    Status::Succeeded,
                    Status::Failed,
                    Status::Skipped,
                    Status::Blocked,
                    Status::NotStarted,
                ]
                .iter()
                .map(|s| (s.as_str(), counts[s.as_str()]))
                .collect();
                bars.push((kind.as_str().to_string(), parts));
            }
        }
        None => {
            for (plan, info) in r.plan.targets.iter().zip(r.targets) {
                for (kind, n) in planned_counts(plan) {
                    bars.push((format!("{kind} ({})", info.name), vec![("planned", n)]));
                }
            }
        }
    }
    let max = bars
        .iter()
        .map(|(_, p)| p.iter().map(|(_, n)| n).sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (130.0, 560.0, 28.0);
    let height = row_h * bars.len() as f64 + 10.0;
    let heading = if r.outcomes.is_some() {
        "Ops by kind and status"
    } else {
        "Planned ops by target and kind"
    };
    let _ = writeln!(
        out,
        "<h2>{heading}</h2>\n<svg role=\"img\" aria-label=\"{heading}\" viewBox=\"0 0 {} {height}\" width=\"{}\">",
        label_w + bar_w + 80.0,
        label_w + bar_w + 80.0
    );
    for (i, (label, parts)) in bars.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let _ = write!(out, "<text x=\"0\" y=\"{}\">{}</text>", y + 16.0, esc(label));
        let mut x = label_w;
        for (status, n) in parts.iter().filter(|(_, n)| *n > 0) {
            let w = bar_w * *n as f64 / max as f64;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" rx=\"2\" style=\"fill:{}\"><title>{}: {n} {status}</title></rect>",
                if *status == "planned" { "var(--req)" } else { colour(status) },
                esc(label)
            );
            x += w;
        }
        let total: usize = parts.iter().map(|(_, n)| n).sum();
        let _ = writeln!(out, "<text x=\"{:.1}\" y=\"{}\">{total}</text>", x + 6.0, y + 16.0);
    }
    let _ = writeln!(out, "</svg>");
    if r.outcomes.is_some() {
        let _ = write!(out, "<div class=\"legend\">");
        for s in ["succeeded", "failed", "skipped", "blocked", "not_started"] {
            let _ = write!(
                out,
                "<span><i style=\"background:{}\"></i>{}</span>",
                colour(s),
                s.replace('_', " ")
            );
        }
        let _ = writeln!(out, "</div>");
    }
}

/// Requests and throttled requests per second over the run, as two lines.
fn timeline(out: &mut String, r: &RunReport) {
    let _ = writeln!(out, "<h2>Requests per second</h2>");
    if r.timeline.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">No request was sent.</p>");
        return;
    }
    // A bar per second (per group of seconds on a long run, at most 300 bars): requests per
    // second, and over it the throttled ones.
    let group = r.timeline.len().div_ceil(300).max(1);
    let grouped: Vec<[u64; 2]> = r
        .timeline
        .chunks(group)
        .map(|c| {
            let n = c.len() as u64;
            [c.iter().map(|b| b[0]).sum::<u64>() / n, c.iter().map(|b| b[1]).sum::<u64>() / n]
        })
        .collect();
    let (w, h, pad) = (760.0, 180.0, 30.0);
    let max = grouped.iter().map(|[req, _]| *req).max().unwrap_or(0).max(1) as f64;
    let slot = (w - pad) / grouped.len() as f64;
    let height = |n: u64| (h - 2.0 * pad) * n as f64 / max;
    let mut bars = String::new();
    for (i, [requests, throttled]) in grouped.iter().enumerate() {
        let x = pad + i as f64 * slot;
        for (n, fill, what) in [(*requests, "var(--req)", "requests"), (*throttled, "var(--thr)", "throttled")] {
            if n > 0 {
                let _ = write!(
                    bars,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" style=\"fill:{fill}\"><title>second {}: {n} {what} a second</title></rect>",
                    h - pad - height(n),
                    (slot * 0.9).max(0.5),
                    height(n),
                    i * group + 1
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "<svg role=\"img\" aria-label=\"Requests per second\" viewBox=\"0 0 {w} {h}\" width=\"{w}\">\
         <line class=\"axis\" x1=\"{pad}\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\"/><line class=\"axis\" x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{0}\"/>\
         <text x=\"0\" y=\"{pad}\">{max}</text><text x=\"0\" y=\"{0}\">0</text><text x=\"{1}\" y=\"{h}\">{2} s</text>{bars}</svg>",
        h - pad,
        w - 40.0,
        r.timeline.len(),
    );
    let _ = writeln!(
        out,
        "<div class=\"legend\"><span><i style=\"background:var(--req)\"></i>requests</span><span><i style=\"background:var(--thr)\"></i>throttled (429, or 503 on a whole $batch)</span></div>"
    );
}

/// A number as the page shows it (escaped with its cell).
fn number(value: Option<&str>, unmask: bool) -> String {
    match value {
        Some(v) if unmask => v.to_string(),
        Some(v) => crate::input::phone::mask(v),
        None => String::new(),
    }
}

/// Free text that may quote a number (a Graph message, a reason), masked unless `unmask`.
fn text(value: &str, unmask: bool) -> String {
    if unmask {
        value.to_string()
    } else {
        crate::input::phone::mask_numbers_in(value)
    }
}

/// A table row: what, target, user, op or line, number, reason.
type Row = [String; 6];

/// A row per skipped (target, user) of the plan.
fn skip_rows(r: &RunReport) -> Vec<Row> {
    r.plan
        .user_plans()
        .filter_map(|(target, u)| {
            let reason = u.skip.as_ref()?;
            Some([
                format!("user {}", reason.code()),
                target.to_string(),
                u.user.clone(),
                String::new(),
                String::new(),
                text(&reason.to_string(), r.unmask),
            ])
        })
        .collect()
}

/// A row per rejected input row (already masked unless `--unmask`).
fn reject_rows(r: &RunReport) -> Vec<Row> {
    r.rejects
        .iter()
        .map(|reject| {
            [
                "rejected".into(),
                String::new(),
                reject.user.clone(),
                format!("line {}", reject.line),
                reject.phone_number.clone(),
                reject.reason.clone(),
            ]
        })
        .collect()
}

/// The table of everything that needs a look after an apply: failed, skipped and blocked ops,
/// skipped users, rejected rows.
fn problems(out: &mut String, r: &RunReport) {
    let mut rows: Vec<Row> = Vec::new();
    for o in r.outcomes.unwrap_or_default().iter().filter(|o| o.status != Status::Succeeded) {
        let reason = match (o.error_code.is_empty(), o.message.is_empty()) {
            (true, _) => o.message.clone(),
            (false, true) => o.error_code.clone(),
            (false, false) => format!("{}: {}", o.error_code, o.message),
        };
        rows.push([
            o.status.as_str().to_string(),
            o.target.clone(),
            o.user.clone(),
            format!("{} {}", o.op.kind.as_str(), o.op.phone_type),
            number(o.op.after.as_deref().or(o.op.before.as_deref()), r.unmask),
            text(&reason, r.unmask),
        ]);
    }
    rows.extend(skip_rows(r));
    rows.extend(reject_rows(r));
    let columns = ["what", "target", "user", "op / line", "number", "reason"];
    table(out, "Needs a look", &columns, rows);
}

/// The planned ops, grouped by target and kind, for a plan; then skipped users and rejects.
fn planned(out: &mut String, r: &RunReport) {
    let mut rows: Vec<Row> = Vec::new();
    for (target, u) in r.plan.user_plans() {
        for op in &u.ops {
            rows.push([
                if op.blocked.is_some() {
                    "blocked".into()
                } else {
                    op.kind.as_str().to_string()
                },
                target.to_string(),
                u.user.clone(),
                op.phone_type.clone(),
                format!(
                    "{} → {}",
                    number(op.before.as_deref(), r.unmask),
                    number(op.after.as_deref(), r.unmask)
                ),
                text(op.blocked.as_deref().unwrap_or(&op.reason), r.unmask),
            ]);
        }
    }
    rows.sort_by(|a, b| (&a[1], &a[0]).cmp(&(&b[1], &b[0])));
    rows.extend(skip_rows(r));
    rows.extend(reject_rows(r));
    let columns = ["what", "target", "user", "type / line", "number", "why"];
    table(out, "Planned ops", &columns, rows);
}

/// A filterable, sortable table, every cell escaped here. Rows past [`TABLE_ROWS`] are
/// counted, not shown.
fn table(out: &mut String, heading: &str, columns: &[&str; 6], rows: Vec<Row>) {
    let _ = writeln!(out, "<h2>{heading}</h2>");
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">Nothing.</p>");
        return;
    }
    let mut kinds: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    kinds.sort();
    kinds.dedup();
    let options: String = kinds
        .iter()
        .map(|k| format!("<option value=\"{0}\">{0}</option>", esc(k)))
        .collect();
    let _ = writeln!(
        out,
        "<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"Filter\" aria-label=\"Filter\"> \
         <select id=\"kind\" aria-label=\"Kind\"><option value=\"\">all</option>{options}</select> \
         <span class=\"note\"><span id=\"shown\">{}</span> shown</span></div>",
        rows.len().min(TABLE_ROWS)
    );
    let head: String = columns.iter().map(|c| format!("<th>{}</th>", esc(c))).collect();
    let _ = writeln!(out, "<table id=\"items\"><thead><tr>{head}</tr></thead><tbody>");
    for row in rows.iter().take(TABLE_ROWS) {
        let _ = write!(out, "<tr data-kind=\"{}\">", esc(&row[0]));
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</tbody></table>");
    if rows.len() > TABLE_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"note\">… and {} more rows: see outcomes.csv, plan.md and rejects.csv.</p>",
            rows.len() - TABLE_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_from_outside_cannot_become_markup() {
        assert_eq!(
            esc("<img src=x onerror=\"alert('1')\">&"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(esc("a\u{0}b"), "a\\u{0000}b");
        assert_eq!(esc("alex@contoso.com"), "alex@contoso.com");
    }
}
