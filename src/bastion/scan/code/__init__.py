"""ML code analysis: one AST pass (``facts``) with import aliases resolved, checks per concept
(``loading``, ``hub``, ``execution``, ``network``, ``archives``), shell command lines
(``commands``) and inline suppressions (``suppress``).
"""
