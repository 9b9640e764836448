{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "D4z7yjpVEPGZZS2TF4PdDH1DpXr2M52ENZtL8uYlr3dTaDvRZT3MsaLTpK9w/ufi2FuuxU/fl/TkHhzl73XwAw=="
}
