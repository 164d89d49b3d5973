"""Static analysis of pickle streams: the opcode reader, the symbolic machine, the judgement."""

from bastion.scan.formats.pickle.analyzer import Mode, PickleAnalyzer, analyze_pickle

__all__ = ["Mode", "PickleAnalyzer", "analyze_pickle"]
