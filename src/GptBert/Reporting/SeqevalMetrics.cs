namespace GptBert.Reporting;

/// <summary>One entity: its type and its first and last token index (inclusive) in the sentence.</summary>
public readonly record struct TaggedEntity(string Type, int Start, int End);

/// <summary>seqeval's two ways of reading entities from tags.</summary>
public enum SeqevalMode
{
    /// <summary>seqeval's default, conlleval-compatible: an I-X after O or after another type starts an entity.</summary>
    Default,
    /// <summary><c>mode='strict', scheme=IOB2</c>: an entity is B-X followed by I-X…; a stray I-X is no entity.</summary>
    StrictIob2,
}

/// <summary>Entity-level precision, recall and F1 (micro average and per type), in [0, 1] like seqeval.</summary>
public sealed record SeqevalScore(
    double Precision, double Recall, double F1, int Support, int Predicted,
    IReadOnlyList<ClassMetrics> PerType);

/// <summary>
/// Entity-level scores exactly as seqeval computes them (<c>classification_report</c> /
/// <c>precision_recall_fscore_support</c>): an entity counts as correct only when its type, start and
/// end all match; zero denominators give 0; types sorted by name. Two modes, because they differ on
/// ill-formed sequences: <see cref="SeqevalMode.Default"/> mirrors seqeval's get_entities (conlleval),
/// <see cref="SeqevalMode.StrictIob2"/> mirrors its Entities class with the IOB2 scheme.
/// Tags are "O", or a prefix and a type such as "B-PER"; strict IOB2 accepts only B, I and O prefixes.
/// </summary>
public static class SeqevalMetrics
{
    public static SeqevalScore Compute(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> predicted, SeqevalMode mode = SeqevalMode.StrictIob2)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        MetricInputs.CheckCounts(predicted.Count, gold.Count, "gold tag sequences");
        var goldSet = new HashSet<(int, TaggedEntity)>();
        var predSet = new HashSet<(int, TaggedEntity)>();
        for (int s = 0; s < gold.Count; s++)
        {
            if (gold[s].Count != predicted[s].Count)
                throw new GptBertException($"cannot score sentence {s + 1}: {gold[s].Count} gold tags but {predicted[s].Count} predicted tags; give one tag per token");
            foreach (var e in Entities(gold[s], mode)) goldSet.Add((s, e));
            foreach (var e in Entities(predicted[s], mode)) predSet.Add((s, e));
        }

        var types = goldSet.Concat(predSet).Select(x => x.Item2.Type).Distinct().OrderBy(t => t, StringComparer.Ordinal).ToList();
        var perType = new List<ClassMetrics>();
        foreach (var type in types)
        {
            int g = goldSet.Count(x => x.Item2.Type == type);
            int p = predSet.Count(x => x.Item2.Type == type);
            int tp = predSet.Count(x => x.Item2.Type == type && goldSet.Contains(x));
            perType.Add(Row(type, tp, p, g));
        }
        int correct = predSet.Count(goldSet.Contains);
        var micro = Row("micro", correct, predSet.Count, goldSet.Count);
        return new SeqevalScore(micro.Precision, micro.Recall, micro.F1, goldSet.Count, predSet.Count, perType);
    }

    static ClassMetrics Row(string label, int tp, int predicted, int support)
    {
        double precision = predicted == 0 ? 0 : (double)tp / predicted;
        double recall = support == 0 ? 0 : (double)tp / support;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassMetrics(label, precision, recall, f1, support);
    }

    /// <summary>The entities of one tag sequence in the given mode.</summary>
    public static List<TaggedEntity> Entities(IReadOnlyList<string> tags, SeqevalMode mode) =>
        mode == SeqevalMode.Default ? DefaultEntities(tags) : StrictIob2Entities(tags);

    static (char Prefix, string Type) Split(string tag)
    {
        // seqeval: tag = chunk[0]; type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'
        if (tag.Length == 0) return ('O', "_");
        string rest = tag[1..];
        int dash = rest.IndexOf('-');
        string type = dash >= 0 ? rest[(dash + 1)..] : rest;
        return (tag[0], type.Length == 0 ? "_" : type);
    }

    // seqeval.metrics.sequence_labeling.get_entities with its end_of_chunk / start_of_chunk rules.
    static List<TaggedEntity> DefaultEntities(IReadOnlyList<string> tags)
    {
        var chunks = new List<TaggedEntity>();
        char prevTag = 'O';
        string prevType = "";
        int begin = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            var (tag, type) = i < tags.Count ? Split(tags[i]) : ('O', "_");
            if (EndOfChunk(prevTag, tag, prevType, type)) chunks.Add(new TaggedEntity(prevType, begin, i - 1));
            if (StartOfChunk(prevTag, tag, prevType, type)) begin = i;
            prevTag = tag;
            prevType = type;
        }
        return chunks;
    }

    static bool EndOfChunk(char prev, char tag, string prevType, string type) =>
        prev == 'E' || prev == 'S'
        || (prev == 'B' && tag is 'B' or 'S' or 'O')
        || (prev == 'I' && tag is 'B' or 'S' or 'O')
        || (prev != 'O' && prev != '.' && prevType != type);

    static bool StartOfChunk(char prev, char tag, string prevType, string type) =>
        tag == 'B' || tag == 'S'
        || (prev == 'E' && tag is 'E' or 'I')
        || (prev == 'S' && tag is 'E' or 'I')
        || (prev == 'O' && tag is 'E' or 'I')
        || (tag != 'O' && tag != '.' && prevType != type);

    // seqeval.scheme.Entities with IOB2: an entity starts at B-X and continues over I-X; every other
    // tag (O, B-*, I-Y) ends it. An I-X that does not continue an entity starts nothing.
    static List<TaggedEntity> StrictIob2Entities(IReadOnlyList<string> tags)
    {
        var entities = new List<TaggedEntity>();
        var parsed = new (char Prefix, string Type)[tags.Count];
        for (int i = 0; i < tags.Count; i++)
        {
            string t = tags[i];
            if (t == "O") { parsed[i] = ('O', ""); continue; }
            if (t.Length < 3 || (t[0] != 'B' && t[0] != 'I') || t[1] != '-')
                throw new GptBertException($"tag \"{t}\" is not IOB2: use O, B-TYPE or I-TYPE (or the lenient default mode)");
            parsed[i] = (t[0], t[2..]);
        }
        int k = 0;
        while (k < parsed.Length)
        {
            if (parsed[k].Prefix != 'B') { k++; continue; }
            int end = k + 1;
            while (end < parsed.Length && parsed[end].Prefix == 'I' && parsed[end].Type == parsed[k].Type) end++;
            entities.Add(new TaggedEntity(parsed[k].Type, k, end - 1));
            k = end;
        }
        return entities;
    }
}
