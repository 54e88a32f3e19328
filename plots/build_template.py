"""Build plots/offline.html: DVC's plots page with vega, vega-lite and vega-embed inlined.

`dvc plots show` normally loads its chart libraries from a CDN, so offline most
charts vanish. `.dvc/config` points `plots.html_template` at plots/offline.html,
which carries the same library versions dvc-render asks for, minified, inside
the page. This script rebuilds that file from the npm registry's tarballs
(`npm pack`, BSD-3-Clause, licenses in plots/licenses/) and checks each file
against the sha256 below.

    python plots/build_template.py            # needs `npm` and the npm registry
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARIES = [  # (npm package@version, file in the tarball, sha256 of that file)
    ("vega@5.20.2", "package/build/vega.min.js", "4794d0169cb1f3ebad8117fe98ba5bd652dd725905ec0384e832391dbccb03be"),
    ("vega-lite@5.2.0", "package/build/vega-lite.min.js",
     "d73157451b3978015ab31dacd55ff90d986ab8663fc0abed50f97b3cd90002cb"),
    ("vega-embed@6.18.2", "package/build/vega-embed.min.js",
     "1ba9826431ddc9805e815ad92acc811c819f2bfd32bda2a128b8c4b5070fab5e"),
]
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- vega, vega-lite and vega-embed inlined (see plots/build_template.py): no CDN, works offline.
         There is deliberately no scripts placeholder, so DVC adds no CDN script tags. -->
%s
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def library_text(spec: str, member: str, sha256: str, workdir: Path) -> str:
    subprocess.run(["npm", "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True)
    name, version = spec.rsplit("@", 1)
    with tarfile.open(workdir / f"{name}-{version}.tgz") as tar:
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        sys.exit(f"{spec} {member}: sha256 {digest}, expected {sha256}")
    return data.decode("utf-8")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scripts = [f"<script>/* {spec} {member} (BSD-3-Clause) */\n{library_text(spec, member, sha, Path(scratch))}"
                   "\n</script>" for spec, member, sha in LIBRARIES]
    (HERE / "offline.html").write_text(PAGE % "\n".join(scripts), encoding="utf-8")
    print(f"wrote {HERE / 'offline.html'}")


if __name__ == "__main__":
    main()
