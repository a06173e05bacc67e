/* The privacy notice and the accessibility statement in Danish, Swedish, Norwegian (bokmål) and English.
   {days} is filled in from GET /api/privacy (CARE_RETENTION_DAYS). Plain text only: rendered with textContent. */
"use strict";

window.CARE_PAGES = {
  privacy: {
    da: {
      title: "Privatlivserklæring",
      intro: "Her kan du læse, hvad assistenten gemmer, når du bruger den, og hvor længe.",
      sections: [
        { heading: "Det gemmer vi", items: [
          "Dit spørgsmål, efter at personlige oplysninger som CPR-numre, e-mailadresser og telefonnumre er fjernet. Skriv dem alligevel ikke.",
          "Svaret, du fik, og om det henviste dig til kommunen eller ikke fandt et svar.",
          "Din feedback, hvis du giver den: om svaret var nyttigt, den grund du valgte, og din kommentar, uden personlige oplysninger.",
          "Det sprog og den kommune, du valgte."
        ] },
        { heading: "Så længe gemmer vi det", paragraphs: [
          "Spørgsmål, svar og feedback gemmes i {days} dage. Medarbejdere bruger dem til at gøre svarene bedre og finde emner, som planerne ikke dækker."
        ] },
        { heading: "Det bliver i din browser", paragraphs: [
          "Samtalen gemmes kun i denne fane i din browser og forsvinder, når du lukker fanen eller trykker på »Start forfra«. Dit valg af sprog, kommune, tekststørrelse og farver huskes i din browser. Tjenesten bruger ikke cookies og sporer dig ikke."
        ] },
        { heading: "Det gør vi ikke", paragraphs: [
          "Dit spørgsmål knyttes ikke til dit navn eller din adresse, og assistenten kan ikke se din egen sag. Webserverens log registrerer tekniske oplysninger (tidspunkt, netværksadresse og den side, der blev spurgt om), men aldrig den tekst, du skriver."
        ] },
        { heading: "Ansvar og spørgsmål", paragraphs: [
          "Den kommune eller organisation, der driver tjenesten, er ansvarlig for oplysningerne. Kontakt den, hvis du har spørgsmål om dine oplysninger."
        ] }
      ]
    },
    sv: {
      title: "Integritetsmeddelande",
      intro: "Här kan du läsa vad assistenten sparar när du använder den, och hur länge.",
      sections: [
        { heading: "Det här sparar vi", items: [
          "Din fråga, efter att personuppgifter som personnummer, e-postadresser och telefonnummer har tagits bort. Skriv dem ändå inte.",
          "Svaret du fick, och om det hänvisade dig till kommunen eller inte hittade något svar.",
          "Ditt omdöme om du lämnar ett: om svaret var till hjälp, orsaken du valde och din kommentar, utan personuppgifter.",
          "Det språk och den kommun du valde."
        ] },
        { heading: "Så länge sparar vi det", paragraphs: [
          "Frågor, svar och omdömen sparas i {days} dagar. Medarbetare använder dem för att förbättra svaren och hitta ämnen som planerna inte tar upp."
        ] },
        { heading: "Det här stannar i din webbläsare", paragraphs: [
          "Samtalet sparas bara i den här fliken i din webbläsare och försvinner när du stänger fliken eller trycker på ”Börja om”. Ditt val av språk, kommun, textstorlek och färger sparas i din webbläsare. Tjänsten använder inga kakor och spårar dig inte."
        ] },
        { heading: "Det här gör vi inte", paragraphs: [
          "Din fråga kopplas inte till ditt namn eller din adress, och assistenten kan inte se ditt eget ärende. Webbserverns logg registrerar tekniska uppgifter (tidpunkt, nätverksadress och vilken sida som efterfrågades), men aldrig texten du skriver."
        ] },
        { heading: "Ansvar och frågor", paragraphs: [
          "Den kommun eller organisation som driver tjänsten är ansvarig för uppgifterna. Kontakta den om du har frågor om dina uppgifter."
        ] }
      ]
    },
    nb: {
      title: "Personvernerklæring",
      intro: "Her kan du lese hva assistenten lagrer når du bruker den, og hvor lenge.",
      sections: [
        { heading: "Dette lagrer vi", items: [
          "Spørsmålet ditt, etter at personopplysninger som fødselsnummer, e-postadresser og telefonnumre er fjernet. Ikke skriv dem likevel.",
          "Svaret du fikk, og om det henviste deg til kommunen eller ikke fant noe svar.",
          "Tilbakemeldingen din hvis du gir en: om svaret var nyttig, grunnen du valgte og kommentaren din, uten personopplysninger.",
          "Språket og kommunen du valgte."
        ] },
        { heading: "Så lenge lagrer vi det", paragraphs: [
          "Spørsmål, svar og tilbakemeldinger lagres i {days} dager. Medarbeidere bruker dem til å gjøre svarene bedre og finne temaer planene ikke dekker."
        ] },
        { heading: "Dette blir i nettleseren din", paragraphs: [
          "Samtalen lagres bare i denne fanen i nettleseren din og forsvinner når du lukker fanen eller trykker på «Start på nytt». Valget ditt av språk, kommune, tekststørrelse og farger huskes i nettleseren. Tjenesten bruker ikke informasjonskapsler og sporer deg ikke."
        ] },
        { heading: "Dette gjør vi ikke", paragraphs: [
          "Spørsmålet ditt knyttes ikke til navnet eller adressen din, og assistenten kan ikke se din egen sak. Loggen til webserveren registrerer tekniske opplysninger (tidspunkt, nettverksadresse og hvilken side som ble bedt om), men aldri teksten du skriver."
        ] },
        { heading: "Ansvar og spørsmål", paragraphs: [
          "Kommunen eller organisasjonen som driver tjenesten, er ansvarlig for opplysningene. Kontakt den hvis du har spørsmål om opplysningene dine."
        ] }
      ]
    },
    en: {
      title: "Privacy notice",
      intro: "This notice explains what the assistant stores when you use it, and for how long.",
      sections: [
        { heading: "What we store", items: [
          "Your question, after personal details such as ID numbers, e-mail addresses and phone numbers have been removed. Please do not write them anyway.",
          "The answer you were given, and whether it referred you to the municipality or found no answer.",
          "Your feedback if you give it: whether the answer helped, the reason you chose and your comment, with personal details removed.",
          "The language and municipality you chose."
        ] },
        { heading: "How long we keep it", paragraphs: [
          "Questions, answers and feedback are kept for {days} days. Staff use them to improve the answers and to find topics the plans do not cover."
        ] },
        { heading: "What stays in your browser", paragraphs: [
          "The conversation is kept only in this tab of your browser and is gone when you close the tab or press “Start over”. Your choice of language, municipality, text size and colours is remembered in your browser. The service uses no cookies and does not track you."
        ] },
        { heading: "What we do not do", paragraphs: [
          "Your question is not linked to your name or address, and the assistant cannot see your own case. The web server's log records technical details (the time, the network address and the page asked for), but never the text you write."
        ] },
        { heading: "Who is responsible", paragraphs: [
          "The municipality or organisation that runs this service is responsible for the data. Contact it if you have questions about your data."
        ] }
      ]
    }
  },
  accessibility: {
    da: {
      title: "Tilgængelighedserklæring",
      intro: "Alle skal kunne bruge assistenten, også hvis du bruger skærmlæser, tastatur eller forstørrelse.",
      sections: [
        { heading: "Så tilgængelig er siden", paragraphs: [
          "Siden er lavet til at leve op til WCAG 2.1 niveau AA. Hver ændring af tjenesten testes automatisk i en rigtig browser med værktøjet axe i alle sidens tilstande, i lyse, mørke og kontrastfarver, med tastaturet alene, ved 200 % zoom og i 320 pixels bredde."
        ] },
        { heading: "Det kan du selv indstille", items: [
          "Tekststørrelse op til 200 %.",
          "Lyse, mørke eller kontrastfarver. Som udgangspunkt følger siden indstillingen på din enhed.",
          "Sidens sprog: dansk, svensk, norsk eller engelsk.",
          "Svar kan kopieres og udskrives sammen med kilderne."
        ] },
        { heading: "Kendte begrænsninger", items: [
          "Uddrag fra planerne vises, som kommunen har skrevet dem, og kan være svære at læse.",
          "Oversættelser markeret som udkast er endnu ikke gennemgået af en medarbejder. Den oprindelige tekst er altid et klik væk.",
          "Medarbejdernes konsol er ikke omfattet af denne erklæring."
        ] },
        { heading: "Fortæl os om problemer", paragraphs: [
          "Hvis noget ikke virker for dig, så brug feedbacken under et svar (vælg »Svært at forstå« eller »Andet«), eller kontakt den kommune, der driver tjenesten."
        ] },
        { heading: "Klagemulighed", paragraphs: [
          "Er du ikke tilfreds med svaret, kan du klage til tilsynsmyndigheden: i Danmark Digitaliseringsstyrelsen, i Sverige Myndigheten för digital förvaltning (DIGG) og i Norge Tilsynet for universell utforming av ikt."
        ] }
      ]
    },
    sv: {
      title: "Tillgänglighetsredogörelse",
      intro: "Alla ska kunna använda assistenten, även du som använder skärmläsare, tangentbord eller förstoring.",
      sections: [
        { heading: "Så tillgänglig är sidan", paragraphs: [
          "Sidan är gjord för att uppfylla WCAG 2.1 nivå AA. Varje ändring av tjänsten testas automatiskt i en riktig webbläsare med verktyget axe i sidans alla lägen, i ljusa, mörka och kontrastfärger, med enbart tangentbordet, vid 200 % zoom och i 320 pixlars bredd."
        ] },
        { heading: "Det här kan du ställa in", items: [
          "Textstorlek upp till 200 %.",
          "Ljusa, mörka eller kontrastfärger. Från början följer sidan inställningen på din enhet.",
          "Sidans språk: danska, svenska, norska eller engelska.",
          "Svar kan kopieras och skrivas ut tillsammans med källorna."
        ] },
        { heading: "Kända brister", items: [
          "Utdrag ur planerna visas som kommunen har skrivit dem och kan vara svåra att läsa.",
          "Översättningar som är markerade som utkast har inte granskats av en medarbetare än. Originaltexten finns alltid ett klick bort.",
          "Medarbetarnas konsol omfattas inte av den här redogörelsen."
        ] },
        { heading: "Berätta om problem", paragraphs: [
          "Om något inte fungerar för dig kan du lämna ett omdöme under ett svar (välj ”Svårt att förstå” eller ”Annat”), eller kontakta den kommun som driver tjänsten."
        ] },
        { heading: "Tillsyn", paragraphs: [
          "Om du inte är nöjd med svaret kan du vända dig till tillsynsmyndigheten: i Sverige Myndigheten för digital förvaltning (DIGG), i Danmark Digitaliseringsstyrelsen och i Norge Tilsynet for universell utforming av ikt."
        ] }
      ]
    },
    nb: {
      title: "Tilgjengelighetserklæring",
      intro: "Alle skal kunne bruke assistenten, også du som bruker skjermleser, tastatur eller forstørrelse.",
      sections: [
        { heading: "Så tilgjengelig er siden", paragraphs: [
          "Siden er laget for å oppfylle WCAG 2.1 nivå AA. Hver endring av tjenesten testes automatisk i en ekte nettleser med verktøyet axe i alle sidens tilstander, i lyse, mørke og kontrastfarger, med bare tastaturet, ved 200 % zoom og i 320 piksler bredde."
        ] },
        { heading: "Dette kan du stille inn selv", items: [
          "Tekststørrelse opptil 200 %.",
          "Lyse, mørke eller kontrastfarger. I utgangspunktet følger siden innstillingen på enheten din.",
          "Sidens språk: dansk, svensk, norsk eller engelsk.",
          "Svar kan kopieres og skrives ut sammen med kildene."
        ] },
        { heading: "Kjente begrensninger", items: [
          "Utdrag fra planene vises slik kommunen har skrevet dem, og kan være vanskelige å lese.",
          "Oversettelser som er merket som utkast, er ikke gjennomgått av en medarbeider ennå. Originalteksten er alltid ett klikk unna.",
          "Konsollen for medarbeidere er ikke omfattet av denne erklæringen."
        ] },
        { heading: "Si fra om problemer", paragraphs: [
          "Hvis noe ikke fungerer for deg, kan du gi en tilbakemelding under et svar (velg «Vanskelig å forstå» eller «Annet»), eller kontakte kommunen som driver tjenesten."
        ] },
        { heading: "Tilsyn", paragraphs: [
          "Hvis du ikke er fornøyd med svaret, kan du klage til tilsynsmyndigheten: i Norge Tilsynet for universell utforming av ikt (uutilsynet), i Danmark Digitaliseringsstyrelsen og i Sverige Myndigheten för digital förvaltning (DIGG)."
        ] }
      ]
    },
    en: {
      title: "Accessibility statement",
      intro: "Everyone should be able to use the assistant, including people who use a screen reader, a keyboard or magnification.",
      sections: [
        { heading: "How accessible this page is", paragraphs: [
          "The page is built to meet WCAG 2.1 level AA. Every change to the service is tested automatically in a real browser with the axe tool in every state of the page, in light, dark and high-contrast colours, with the keyboard alone, at 200 % zoom and at 320 pixels width."
        ] },
        { heading: "What you can adjust", items: [
          "Text size up to 200 %.",
          "Light, dark or high-contrast colours. By default the page follows the setting of your device.",
          "The language of the page: Danish, Swedish, Norwegian or English.",
          "Answers can be copied and printed together with their sources."
        ] },
        { heading: "Known limitations", items: [
          "Passages from the plans are shown as the municipality wrote them and can be hard to read.",
          "Translations marked as a draft have not yet been checked by a member of staff. The original text is always one click away.",
          "The staff console is not covered by this statement."
        ] },
        { heading: "Tell us about problems", paragraphs: [
          "If something does not work for you, give feedback under an answer (choose “Hard to understand” or “Other”), or contact the municipality that runs the service."
        ] },
        { heading: "Enforcement", paragraphs: [
          "If you are not satisfied with the response, you can turn to the supervisory authority: in Denmark the Agency for Digital Government (Digitaliseringsstyrelsen), in Sweden the Agency for Digital Government (DIGG), in Norway the Authority for Universal Design of ICT (Tilsynet for universell utforming av ikt)."
        ] }
      ]
    }
  }
};
