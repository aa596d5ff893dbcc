//! Address search without I/O: how a place name or a query is normalised (the importer and the
//! search call the same function, so stored names and queries always agree), and how a query is
//! read — a street and house number ("Corrientes 1234", "Corrientes al 1200"), an intersection
//! ("Corrientes y Florida", "Lavalle e Irigoyen", "Tucumán esquina Florida") or a plain name.

/// Longest text (in characters) a place name or a query may have.
pub const MAX_CHARS: usize = 200;

/// Abbreviations a caller or a data set writes, spelled out so "Av. Corrientes" finds
/// "Avenida Corrientes" and "Gral Paz" finds "General Paz".
const ABBREVIATIONS: [(&str, &str); 24] = [
    ("av", "avenida"),
    ("avda", "avenida"),
    ("avd", "avenida"),
    ("gral", "general"),
    ("pte", "presidente"),
    ("pres", "presidente"),
    ("dr", "doctor"),
    ("cnel", "coronel"),
    ("tte", "teniente"),
    ("sta", "santa"),
    ("sto", "santo"),
    ("pje", "pasaje"),
    ("psje", "pasaje"),
    ("bv", "bulevar"),
    ("bvd", "bulevar"),
    ("blvd", "bulevar"),
    ("bvar", "bulevar"),
    ("diag", "diagonal"),
    ("ing", "ingeniero"),
    ("prof", "profesor"),
    ("cmte", "comandante"),
    ("hosp", "hospital"),
    ("cria", "comisaria"),
    ("pza", "plaza"),
];

/// Words that may stand between a street and its house number ("Corrientes al 1200",
/// "Corrientes N° 1200", "Corrientes número 1200").
const NUMBER_MARKERS: [&str; 4] = ["al", "n", "nro", "numero"];

/// Words that join two streets into an intersection.
const JUNCTIONS: [&str; 4] = ["y", "e", "esquina", "esq"];

/// Lower case, accents and ñ folded to ASCII, every run of other characters one space,
/// abbreviations spelled out. The result is what the trigram index holds.
pub fn normalizar(s: &str) -> String {
    let mut folded = String::with_capacity(s.len());
    for c in s.chars() {
        // "&" joins two streets like "y" does.
        if c == '&' {
            folded.push_str(" y ");
            continue;
        }
        for l in c.to_lowercase() {
            let f = match l {
                'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
                'é' | 'è' | 'ë' | 'ê' => 'e',
                'í' | 'ì' | 'ï' | 'î' => 'i',
                'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
                'ú' | 'ù' | 'ü' | 'û' => 'u',
                'ñ' => 'n',
                'ç' => 'c',
                c if c.is_alphanumeric() => c,
                _ => ' ',
            };
            folded.push(f);
        }
    }
    folded
        .split_whitespace()
        .map(|w| {
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == w)
                .map_or(w, |(_, long)| long)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a (normalised) query can be read. Every reading is tried, the structured ones first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lectura {
    /// The whole query, as a name.
    pub nombre: String,
    /// A street and a house number: the query ends in a number after at least one word.
    pub direccion: Option<(String, i32)>,
    /// Two streets joined by "y", "e", "esquina" or "&".
    pub interseccion: Option<(String, String)>,
}

/// Reads a normalised query (`normalizar`).
pub fn leer(normalizada: &str) -> Lectura {
    let words: Vec<&str> = normalizada.split(' ').filter(|w| !w.is_empty()).collect();
    let direccion = match words.split_last() {
        Some((last, rest))
            if !rest.is_empty()
                && (1..=6).contains(&last.len())
                && last.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let mut street = rest;
            if let Some((marker, before)) = street.split_last()
                && NUMBER_MARKERS.contains(marker)
                && !before.is_empty()
            {
                street = before;
            }
            last.parse::<i32>().ok().map(|n| (street.join(" "), n))
        }
        _ => None,
    };
    // The first junction word with words on both sides splits the query.
    let interseccion = words
        .iter()
        .enumerate()
        .find(|(i, w)| JUNCTIONS.contains(w) && *i > 0 && *i + 1 < words.len())
        .map(|(i, _)| (words[..i].join(" "), words[i + 1..].join(" ")));
    Lectura {
        nombre: words.join(" "),
        direccion,
        interseccion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_accents_case_punctuation_and_abbreviations() {
        assert_eq!(normalizar("  Av. Corrientes  "), "avenida corrientes");
        assert_eq!(normalizar("TUCUMÁN"), "tucuman");
        assert_eq!(normalizar("Gral. Güemes"), "general guemes");
        assert_eq!(normalizar("Peña, Rodríguez"), "pena rodriguez");
        assert_eq!(normalizar("Lavalle & Florida"), "lavalle y florida");
        assert_eq!(normalizar("N° 1234"), "n 1234");
        assert_eq!(normalizar(""), "");
    }

    #[test]
    fn reads_street_and_number() {
        let l = leer(&normalizar("Av. Corrientes 1234"));
        assert_eq!(l.direccion, Some(("avenida corrientes".into(), 1234)));
        assert_eq!(l.interseccion, None);
        let l = leer(&normalizar("Corrientes al 1200"));
        assert_eq!(l.direccion, Some(("corrientes".into(), 1200)));
        let l = leer(&normalizar("Corrientes N° 1200"));
        assert_eq!(l.direccion, Some(("corrientes".into(), 1200)));
        let l = leer(&normalizar("Calle 50 1234"));
        assert_eq!(l.direccion, Some(("calle 50".into(), 1234)));
        assert_eq!(leer("1234").direccion, None);
        assert_eq!(leer("corrientes").direccion, None);
        assert_eq!(leer("corrientes 12345678").direccion, None);
    }

    #[test]
    fn reads_intersections() {
        for q in [
            "Corrientes y Florida",
            "Corrientes e Florida",
            "Corrientes esquina Florida",
            "Corrientes esq. Florida",
            "Corrientes & Florida",
        ] {
            let l = leer(&normalizar(q));
            assert_eq!(
                l.interseccion,
                Some(("corrientes".into(), "florida".into())),
                "{q}"
            );
        }
        assert_eq!(leer("y florida").interseccion, None);
        assert_eq!(leer("corrientes y").interseccion, None);
        assert_eq!(leer(&normalizar("Plaza de Mayo")).interseccion, None);
    }
}
