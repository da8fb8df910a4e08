using Npgsql;

namespace Hermes.Persistence.Submissions;

/// <summary>
/// The backup ids (<c>hermes_leads.id</c>) a <see cref="SubmissionStore"/> takes from the leads' own identity sequence
/// before it writes, so that a transaction's leads and their outbox rows — whose frozen payloads carry those ids — go
/// to PostgreSQL in one round trip with the <c>COMMIT</c>. Ids are reserved in blocks (one <c>nextval</c> round trip
/// a block) and used only while the block is fresh (<see cref="FreshFor"/>), so the ids of leads stay in the order they
/// were written, between API replicas too, to within that time. The block follows the rate: it doubles (up to
/// <see cref="MaxBlock"/>) each time one is used up while fresh, and a block that went stale leaves its unused ids
/// behind (a gap in the ids, as a rolled-back insert leaves one) and sets the next to what was used of it; so does a
/// fresh block too small for the transaction at hand. So a lone
/// submission reserves just its own id, and a busy API one round trip per <see cref="MaxBlock"/> leads.
/// </summary>
public sealed class BackupIdReservoir(TimeProvider time)
{
    /// <summary>The most ids one reservation takes.</summary>
    public const int MaxBlock = 64;

    /// <summary>How long reserved ids are used: the most a lead's id can be out of the order of writing.</summary>
    public static readonly TimeSpan FreshFor = TimeSpan.FromSeconds(1);

    private const string ReserveSql = "SELECT nextval(pg_get_serial_sequence('hermes_leads', 'id')) FROM generate_series(1, $1)";

    private readonly Lock _lock = new();
    private long[] _block = [];
    private int _next;
    private long _reservedAt;
    private int _size = 1;

    /// <summary>
    /// Fills <paramref name="ids"/> with fresh ids, in ascending order, reserving a block on
    /// <paramref name="connection"/> (inside <paramref name="transaction"/>: a sequence gives its values whatever becomes
    /// of the transaction) when too few are left.
    /// </summary>
    public async Task TakeAsync(long[] ids, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        int size;
        lock (_lock)
        {
            if (TryTake(ids))
            {
                return;
            }

            size = Math.Clamp(Math.Max(_size, ids.Length), 1, Math.Max(MaxBlock, ids.Length));
        }

        var block = new long[size];
        await using (var command = new NpgsqlCommand(ReserveSql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = size });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var read = 0;
            while (await reader.ReadAsync(cancellationToken))
            {
                block[read++] = reader.GetInt64(0);
            }
        }

        Array.Sort(block);
        lock (_lock)
        {
            // Another writer may have reserved meanwhile: its block's leftovers give way to this one, fresher.
            _block = block;
            _next = 0;
            _reservedAt = time.GetTimestamp();
            if (!TryTake(ids))
            {
                throw new InvalidOperationException($"A reserved block of {block.Length} ids did not hold {ids.Length}.");
            }
        }
    }

    /// <summary>Forgets the ids reserved and not used: one of them was found in use.</summary>
    public void Discard()
    {
        lock (_lock)
        {
            _block = [];
            _next = 0;
        }
    }

    private bool TryTake(long[] ids)
    {
        var left = _block.Length - _next;
        if (left > 0 && time.GetElapsedTime(_reservedAt) > FreshFor)
        {
            // Stale: what was used of it is the rate of a second, the next block's size.
            _size = Math.Max(1, _next);
            _block = [];
            _next = 0;
            return false;
        }

        if (left < ids.Length)
        {
            if (_block.Length > 0)
            {
                // Used up while fresh (what is left of it, too few for this transaction, is left behind): the next one
                // is twice as large.
                _size = Math.Min(MaxBlock, _block.Length * 2);
            }

            return false;
        }

        Array.Copy(_block, _next, ids, 0, ids.Length);
        _next += ids.Length;
        return true;
    }
}
