"""Where the shared real data lives (../shared/data beside the repository)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MESSI = DATA / "images" / "messi5.jpg"
BASKETBALL = DATA / "images" / "basketball1.png"
MEGAMIND = DATA / "video" / "Megamind.avi"
AMASS = DATA / "motion" / "amass_sample.npz"
CMU = sorted((DATA / "motion").glob("cmu_*.bvh"))
