"""Static analysis of pickle streams: the opcode reader, the symbolic machine, the judgement."""

from bastion.scan.formats.pickle.analyzer import PickleAnalyzer, analyze_pickle
from bastion.scan.formats.pickle.report import Mode

__all__ = ["Mode", "PickleAnalyzer", "analyze_pickle"]
