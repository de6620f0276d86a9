"""report.md and report.html from a :class:`ReportContext`: the Markdown and HTML templates
(Jinja2) and the Markdown table writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2

from isobench.tables import BenchmarkSection, Table


@dataclass
class ReportContext:
    title: str
    header: list[tuple[str, str]]
    counts: str
    warnings: list[str]
    legend: str
    sections: list[BenchmarkSection]
    failed: Table
    provenance: Table
    binaries_line: str
    binaries_diff: Table | None
    method: list[str] = field(default_factory=list)
    stats_legend: str = ""
    study: Table | None = None
    study_line: str = ""
    advisor: Table | None = None
    advisor_line: str = ""
    run_order: Table | None = None
    run_order_line: str = ""
    exports: list[tuple[str, str]] = field(default_factory=list)  # (label, relative path)


# --- rendering ---------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def md_table(table: Table) -> str:
    columns = table.md_columns or table.columns
    lines = [
        "| " + " | ".join(_md_escape(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


MD_TEMPLATE = """\
# {{ c.title }}

{% for k, v in c.header %}- **{{ k }}**: {{ v }}
{% endfor %}
**{{ c.counts }}**
{% for w in c.warnings %}
> **{{ w }}**
{% endfor %}
{% if c.method %}## Method

{% for note in c.method %}- {{ note }}
{% endfor %}
{% endif %}## Results

{{ c.legend }}
{% if c.stats_legend %}
{{ c.stats_legend }}
{% endif %}
{% for s in c.sections %}
### {{ s.benchmark }}

{{ md_table(s.table) }}
{% if s.stats_table %}
Statistics:

{{ md_table(s.stats_table) }}
{% endif %}
{% if s.figure %}
![{{ s.benchmark }}]({{ s.figure }})
{% endif %}{% endfor %}
{% if not c.sections %}No successful samples.
{% endif %}
{% if c.study %}## Comparison with the study

{{ c.study_line }}

{% if c.study.rows %}{{ md_table(c.study) }}
{% endif %}
{% endif %}{% if c.advisor %}## Repetition advisor

{{ c.advisor_line }}

{% if c.advisor.rows %}{{ md_table(c.advisor) }}{% else %}No groups.{% endif %}

{% endif %}## Failed cells

{% if c.failed.rows %}{{ md_table(c.failed) }}{% else %}None.{% endif %}

{% if c.run_order %}## Run order

{{ c.run_order_line }}

{% if c.run_order.rows %}{{ md_table(c.run_order) }}{% else %}No plan recorded.{% endif %}

{% endif %}## Provenance

{{ c.binaries_line }}
{% if c.binaries_diff %}
{{ md_table(c.binaries_diff) }}
{% endif %}
{% if c.provenance.rows %}{{ md_table(c.provenance) }}{% else %}No provenance recorded.{% endif %}
{% if c.exports %}
## Data

{% for label, path in c.exports %}- {{ label }}: [{{ path }}]({{ path }})
{% endfor %}{% endif %}
"""

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
table.kv td,table.kv th,table.text td{text-align:left}
th.emulated{background:#fde2c8}
tr.flag td{background:#fde2e2}tr.noisy td{background:#fff8e1}
.warning{background:#fff3cd;border-left:4px solid #d39e00;padding:0.6em 1em;font-weight:bold}
.counts{font-weight:bold}.legend{color:#555;font-size:0.9em}
ul.method li{margin:0.3em 0}
img{max-width:100%;border:1px solid #ddd}
"""

HTML_TEMPLATE = """\
{%- macro table(t, cls="") -%}
<table class="{{ cls }}"><thead>
{%- if t.groups %}<tr>{% for label, span, emulated in t.groups %}<th colspan="{{ span }}"
{%- if emulated %} class="emulated"{% endif %}>{{ label }}</th>{% endfor %}</tr>{% endif %}
<tr>{% for col in t.columns %}<th>{{ col }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}
<tr{% if t.row_classes and t.row_classes[loop.index0] %} class="{{ t.row_classes[loop.index0] }}"
{%- endif %}>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{%- endmacro -%}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ c.title }}</title>
<style>{{ css }}</style></head>
<body>
<h1>{{ c.title }}</h1>
<table class="kv">{% for k, v in c.header %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table>
<p class="counts">{{ c.counts }}</p>
{% for w in c.warnings %}<p class="warning">{{ w }}</p>
{% endfor %}
{% if c.method %}<h2>Method</h2>
<ul class="method">{% for note in c.method %}<li>{{ note }}</li>
{% endfor %}</ul>{% endif %}
<h2>Results</h2>
<p class="legend">{{ c.legend }}</p>
{% if c.stats_legend %}<p class="legend">{{ c.stats_legend }}</p>{% endif %}
{% for s in c.sections %}
<h3>{{ s.benchmark }}</h3>
{{ table(s.table) }}
{% if s.stats_table %}<p>Statistics:</p>{{ table(s.stats_table) }}{% endif %}
{% if s.figure_b64 %}<figure><img alt="{{ s.benchmark }}: mean per environment"
 src="data:image/png;base64,{{ s.figure_b64 }}"></figure>{% endif %}
{% else %}<p>No successful samples.</p>
{% endfor %}
{% if c.study %}<h2>Comparison with the study</h2>
<p>{{ c.study_line }}</p>
{% if c.study.rows %}{{ table(c.study, "text") }}{% endif %}{% endif %}
{% if c.advisor %}<h2>Repetition advisor</h2>
<p>{{ c.advisor_line }}</p>
{% if c.advisor.rows %}{{ table(c.advisor) }}{% else %}<p>No groups.</p>{% endif %}{% endif %}
<h2>Failed cells</h2>
{% if c.failed.rows %}{{ table(c.failed, "text") }}{% else %}<p>None.</p>{% endif %}
{% if c.run_order %}<h2>Run order</h2>
<p>{{ c.run_order_line }}</p>
{% if c.run_order.rows %}{{ table(c.run_order, "text") }}{% else %}<p>No plan recorded.</p>
{% endif %}{% endif %}
<h2>Provenance</h2>
<p>{{ c.binaries_line }}</p>
{% if c.binaries_diff %}{{ table(c.binaries_diff, "text") }}{% endif %}
{% if c.provenance.rows %}{{ table(c.provenance, "text") }}
{% else %}<p>No provenance recorded.</p>{% endif %}
{% if c.exports %}<h2>Data</h2>
<ul>{% for label, path in c.exports %}<li>{{ label }}: <code>{{ path }}</code></li>
{% endfor %}</ul>{% endif %}
</body></html>
"""


def render(template: str, html: bool, **values: Any) -> str:
    """A report template filled in: Markdown as is, HTML with every value escaped."""
    env = jinja2.Environment(autoescape=html, keep_trailing_newline=True)
    return env.from_string(template).render(**values)


def render_markdown(context: ReportContext) -> str:
    return render(MD_TEMPLATE, False, c=context, md_table=md_table)


def render_html(context: ReportContext) -> str:
    return render(HTML_TEMPLATE, True, c=context, css=CSS)
