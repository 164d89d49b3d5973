"""Standards references shared by the container and manifest rules (see shared STANDARDS.md).

OWASP ids follow the brief for this family: ``ML06:2023``/``LLM03:2025`` for the supply chain
and the platform it runs on, ``LLM10:2025`` for denial of service, ``ML05:2023`` (model theft)
for endpoints anyone can query. ATLAS ids are given only where a technique fits: pure container
hardening (capabilities, seccomp) has no ATLAS technique and carries none. ``SSDF PO.5`` is
NIST SP 800-218's "secure environments" practice, which STANDARDS.md maps to manifest checks.
"""

from __future__ import annotations

from bastion.core import References
from bastion.scan.secrets.rules import SECRET_REFS

#: Containers with more privilege than they need (privileged, root, capabilities, host access).
PRIVILEGE = References(
    cwe=("CWE-250", "CWE-269"),
    owasp=("ML06:2023", "LLM03:2025"),
    nist=("MEASURE 2.7", "SSDF PO.5"),
)
#: The host's namespaces or file system shared with a container.
HOST_ACCESS = PRIVILEGE.merged(References(cwe=("CWE-668",)))
#: No bound on what a workload may consume.
RESOURCES = References(
    cwe=("CWE-770", "CWE-400"),
    owasp=("LLM10:2025",),
    atlas=("AML.T0029", "AML.T0034"),
    nist=("MEASURE 2.7", "NISTAML.014"),
)
#: Images or base images that can change under the same reference.
IMAGE_PIN = References(
    cwe=("CWE-494", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.004", "AML.T0010.001"),
    nist=("MAP 4.1", "MANAGE 3.1", "SSDF PW.4"),
)
#: Code or packages fetched and run at build or run time without integrity checks.
REMOTE_CODE = References(
    cwe=("CWE-494", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.001", "AML.T0011.001"),
    nist=("MAP 4.1", "MANAGE 3.1", "SSDF PW.4"),
)
#: Dependency confusion through an extra package index.
INDEX_CONFUSION = REMOTE_CODE.merged(References(cwe=("CWE-427",)))
#: TLS verification off or plain HTTP for what gets installed or loaded.
TRANSPORT = References(
    cwe=("CWE-295", "CWE-319"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.001", "AML.T0010.003"),
    nist=("MAP 4.1", "MEASURE 2.7"),
)
#: Model artifacts fetched from a location that can change or be intercepted.
MODEL_SOURCE = References(
    cwe=("CWE-494", "CWE-345"),
    owasp=("ML06:2023", "ML10:2023", "LLM03:2025", "LLM04:2025"),
    atlas=("AML.T0010.003", "AML.T0058"),
    nist=("MANAGE 3.2", "MAP 4.1", "NISTAML.051"),
)
#: Credentials written into a manifest, image or script.
SECRETS = SECRET_REFS.merged(References(cwe=("CWE-522",)))
#: Well-known default credentials.
DEFAULT_CREDENTIALS = References(
    cwe=("CWE-1392", "CWE-798"),
    owasp=("ML05:2023", "LLM03:2025"),
    atlas=("AML.T0012", "AML.T0055"),
    nist=("MEASURE 2.7", "MANAGE 4.1"),
)
#: Model or tracking endpoints reachable without authentication.
EXPOSURE = References(
    cwe=("CWE-306", "CWE-1327"),
    owasp=("ML05:2023", "LLM10:2025"),
    atlas=("AML.T0040", "AML.T0049", "AML.T0024.002"),
    nist=("MEASURE 2.7", "MANAGE 4.1"),
)
#: World-writable files or directories in an image or on a server.
PERMISSIONS = References(
    cwe=("CWE-732",),
    owasp=("ML06:2023", "ML10:2023"),
    atlas=("AML.T0018",),
    nist=("MEASURE 2.7", "SSDF PO.5"),
)
#: Leftovers and missing operational controls that are hygiene rather than exposure.
HYGIENE = References(cwe=("CWE-459",), nist=("SSDF PO.5",))
MONITORING = References(cwe=("CWE-754",), owasp=("LLM10:2025",), nist=("MANAGE 4.1",))
#: YAML that costs far more to load than its size suggests.
PARSER_ABUSE = References(
    cwe=("CWE-776", "CWE-400"),
    owasp=("ML06:2023", "LLM10:2025"),
    atlas=("AML.T0029",),
    nist=("MANAGE 3.2",),
)
