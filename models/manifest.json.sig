{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "QSNJRyq1e5fkWRd31//B4l3KXi00IuVJ083TInBY63WUtw1gslQSsos7h8ipb1Bk4PgdqdDoaVNVqK5hodsmDQ=="
}
