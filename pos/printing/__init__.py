"""What is printed or shown to a holder: QR codes, ID-1 cards, A4 PDF sheets, the fonts that
draw Chinese, and the holder's page. Pure rendering: no database, no service."""
