// Crypto-miners: browser miners injected into pages and server-side miners dropped into the web root.

rule cryptominer
{
    meta:
        category = "miner"
        description = "Browser or server crypto-miner: CoinHive and clones, CryptoNight, stratum pool URLs"
    strings:
        $coinhive = /coin-?hive(\.min)?\.(js|com)|CoinHive\.(Anonymous|User|Token)/ nocase
        $cryptonight = "cryptonight" nocase
        $stratum = /stratum\+(tcp|ssl|tls):\/\// nocase
        $webminer = /\b(webminer|deepMiner|CryptoLoot|coinimp|jsecoin|minero\.cc|webmine\.pro)\b/ nocase
        $xmrig = /\bxmrig\b/ nocase
    condition:
        any of them
}
