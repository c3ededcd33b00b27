"""mdcnb: analysis and compliance notebooks for Microsoft Defender for Cloud.

Data flows one way: source -> normalise -> tables -> analysis -> figures -> notebooks -> report.
"""

__version__ = "0.1.0"
