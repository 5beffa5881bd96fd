"""What Kaizen remembers: runs, findings, insights and the search over them."""
