namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The console's stylesheet. Plain CSS, no framework: system fonts, readable at phone width (tables scroll inside
/// their box, forms stack), visible keyboard focus, colours that keep a 4.5:1 contrast, and the chart's colours.
/// </summary>
internal static class ConsoleStylesheet
{
    public const string Css = """
        :root { --ink: #1b1f24; --muted: #4f5862; --line: #d0d7de; --bg: #f6f8fa; --card: #fff; --accent: #0b57d0;
                --ok: #116329; --bad: #a40e26; --warn: #7d4e00; --focus: #ffbf47; }
        * { box-sizing: border-box; }
        html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 16px; color: var(--ink); background: var(--bg); }
        body { margin: 0; line-height: 1.45; }
        a { color: var(--accent); }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible {
            outline: 3px solid var(--focus); outline-offset: 2px; }
        .skip { position: absolute; left: -10000px; top: 0; background: var(--card); padding: .5rem 1rem; }
        .skip:focus { left: .5rem; top: .5rem; z-index: 10; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        header.top { background: #24292f; color: #fff; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; }
        header.top .brand { font-weight: 700; color: #fff; text-decoration: none; }
        header.top nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
        header.top nav a { color: #fff; text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
        header.top nav a[aria-current="page"] { border-bottom-color: var(--focus); }
        header.top form { margin-left: auto; }
        header.top button { background: transparent; color: #fff; border: 1px solid #8c959f; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: 1rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
        .card h2 { margin-top: 0; font-size: 1rem; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        .table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
        table { border-collapse: collapse; width: 100%; font-size: .95rem; }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: var(--bg); font-weight: 600; white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.excerpt { max-width: 28rem; overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: .85rem; }
        form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; margin-bottom: 1rem; }
        form.filters .field { display: flex; flex-direction: column; min-width: 12rem; flex: 1 1 12rem; }
        label { font-weight: 600; }
        .hint { color: var(--muted); font-size: .875rem; font-weight: 400; }
        .field-error { color: var(--bad); font-weight: 600; }
        input[type=text], input[type=email], input[type=password], input[type=search], select {
            font: inherit; padding: .45rem .55rem; border: 1px solid #8c959f; border-radius: 4px; background: #fff; width: 100%; }
        button, .button { font: inherit; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
        button.secondary, .button.secondary { background: #fff; color: var(--accent); }
        button.danger { background: var(--bad); border-color: var(--bad); }
        .narrow { max-width: 26rem; }
        .stack > * + * { margin-top: .75rem; }
        .status { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .85rem; border: 1px solid currentColor; white-space: nowrap; }
        .status-delivered, .status-forwarded, .status-ok { color: var(--ok); }
        .status-failed, .status-delivery_failed, .status-problem { color: var(--bad); }
        .status-pending, .status-queued, .status-retry { color: var(--warn); }
        .status-cancelled, .status-erased { color: var(--muted); }
        .notice { border-left: 4px solid var(--accent); background: var(--card); padding: .6rem .9rem; margin: 1rem 0; }
        .notice.error { border-left-color: var(--bad); }
        .notice.ok { border-left-color: var(--ok); }
        .notice.warn { border-left-color: var(--warn); }
        .pager { display: flex; gap: 1rem; margin: 1rem 0; }
        ol.timeline { list-style: none; padding: 0; margin: 0; }
        ol.timeline li { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 4px; padding: .5rem .8rem; margin-bottom: .5rem; }
        ol.timeline li.outcome-delivered { border-left-color: var(--ok); }
        ol.timeline li.outcome-failed { border-left-color: var(--bad); }
        ol.timeline li.outcome-retry { border-left-color: var(--warn); }
        ol.timeline pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 0; font-size: .85rem; }
        svg.chart { width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
        svg.chart .delivered { fill: #1a7f37; }
        svg.chart .failed { fill: #cf222e; }
        svg.chart .axis { stroke: #8c959f; stroke-width: 1; }
        svg.chart text { fill: var(--muted); font-size: 11px; font-family: system-ui, sans-serif; }
        .legend { display: flex; gap: 1rem; font-size: .9rem; margin: .3rem 0; }
        .swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
        .swatch.delivered { background: #1a7f37; }
        .swatch.failed { background: #cf222e; }
        code, .mono { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
        @media (max-width: 40rem) {
            header.top form { margin-left: 0; }
            main { padding: .75rem; }
            dl.facts { grid-template-columns: 1fr; }
            dl.facts dd { margin-bottom: .4rem; }
        }
        """;
}
