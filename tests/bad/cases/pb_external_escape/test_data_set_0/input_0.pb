Bxj(
location../../ext_secret/weights.binp