#!/usr/bin/env python3
"""Line coverage per product assembly from coverlet's cobertura report(s); prints a table and the overall figure."""
import sys
import xml.etree.ElementTree as ET

projects = {}
for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    for package in root.iter("package"):
        name = package.get("name")
        lines = {}
        for cls in package.iter("class"):
            filename = cls.get("filename")
            for line in cls.iter("line"):
                key = (filename, line.get("number"))
                lines[key] = lines.get(key, False) or int(line.get("hits", "0")) > 0
        covered, total = projects.get(name, (0, 0))
        projects[name] = (covered + sum(lines.values()), total + len(lines))

all_covered = sum(c for c, _ in projects.values())
all_total = sum(t for _, t in projects.values())
for name in sorted(projects):
    c, t = projects[name]
    print(f"coverage {name}: {100.0 * c / t if t else 0:.1f}% ({c}/{t} lines)")
print(f"coverage overall: {100.0 * all_covered / all_total if all_total else 0:.1f}%")
