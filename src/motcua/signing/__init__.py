"""Signed documents: the signing service (development CA or a hardware token), PAdES signatures
with pyHanko, the register of signed documents and their public verification (/xac-thuc)."""
