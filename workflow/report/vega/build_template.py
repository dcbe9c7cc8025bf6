"""Rebuild dvc_plots.html, the HTML template `dvc plots show` uses (see ../../../.dvc/config),
with vega, vega-lite and vega-embed inlined so the plots render offline.

DVC's default template loads the three libraries from cdn.jsdelivr.net. A custom template
without the `{scripts}` placeholder gets no CDN tags; `{plot_divs}` is where DVC puts the plots.

    cd "$(mktemp -d)" && npm pack vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0
    for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    python <repo>/workflow/report/vega/build_template.py .

Licences: NOTICE (all BSD-3-Clause, University of Washington Interactive Data Lab).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LIBRARIES = [("vega", "5.33.1", "vega.min.js"), ("vega-lite", "5.23.0", "vega-lite.min.js"),
             ("vega-embed", "6.29.0", "vega-embed.min.js")]
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{refresh_tag}
<title>DVC plots</title>
<!-- Offline: {versions} are inlined below (BSD-3-Clause, see workflow/report/vega/NOTICE).
     Built by workflow/report/vega/build_template.py. -->
{script_tags}
<style>
  body {{ font-family: system-ui, sans-serif; }}
  table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def script(js: str, name: str) -> str:
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)  # no map file to fetch
    for bad in ("</script", "<!--", *PLACEHOLDERS):
        if bad in js:
            raise ValueError(f"{name} contains {bad!r}: it cannot be inlined as is")
    return f"<script>/* {name} */\n{js.strip()}\n</script>"


def build(packs: Path) -> str:
    tags, versions = [], []
    for lib, version, file in LIBRARIES:
        path = packs / f"{lib}-{version}" / "package" / "build" / file
        tags.append(script(path.read_text(encoding="utf-8"), f"{lib} {version}"))
        versions.append(f"{lib} {version}")
    # The placeholders stay literal: DVC fills them.
    return PAGE.format(refresh_tag="{refresh_tag}", plot_divs="{plot_divs}", versions=", ".join(versions),
                       script_tags="\n".join(tags))


if __name__ == "__main__":
    out = Path(__file__).with_name("dvc_plots.html")
    out.write_text(build(Path(sys.argv[1] if len(sys.argv) > 1 else ".")), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
