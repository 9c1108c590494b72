{
  "format": "hoheit-refvalues-signature/v1",
  "algorithm": "ed25519",
  "key_id": "sha256:04a1db9de641a46daea7089248c542ff86fbbfd06cc4189360c462277df21ff4",
  "sha256": "3c2e8f97210cbe102003a56a74c71eb3f28b51727967ce9721d099daf19435d8",
  "signature": "GSlU6txyTN9d3pWXDO4y/zEjj2O8c9Xd7Iw4kpCbZ+WdAi5T0JB58DMr7cl/7tZylgMHHr5L0ZXz2vh27cayBw=="
}
