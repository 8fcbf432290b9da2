Bpast_key_values.0.valueJ€7>~£'ÀN
c¿aNE@#JS?›$<¾³n¯?LV@´_GÀ±›=?º¿Uƒ¿‘r?ÇwZ@K?Çµ¿Ca"@v¡´¿_ñ™>†Œ¿Iñè½vI{?dÍt¾¤_ï=dbD¿¾ÐE?ë¶ >”R¨½RSÿ¿ÆsJ?10c?p€¡?